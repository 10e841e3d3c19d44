"""The real main window, shown, for the desktop tests (closed after each test)."""

import pytest

from desktop.main_window import MainWindow
from desktop.settings import open_settings


@pytest.fixture
def window(qtbot):
    w = MainWindow(open_settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
