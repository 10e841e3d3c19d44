"""The Qt binding itself: a regression guard for a PySide6 bug that would crash the app."""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox


class Emitter(QObject):
    flag = Signal(int, bool)


def test_bool_signals_keep_the_reference_count_of_true_and_false(qapp):
    # PySide6 6.12.0 loses a reference to the bool on every emission; Python 3.11 aborts
    # when True's count reaches zero. Count what 2,000 emissions and toggles do to it.
    box, emitter, seen = QCheckBox(), Emitter(), []
    box.toggled.connect(lambda checked: None)
    emitter.flag.connect(lambda i, value: seen.append(i))
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(1000):
        box.setChecked(i % 2 == 0)
        emitter.flag.emit(i, True)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
    assert len(seen) == 1000
