"""Starts the desktop app."""

import os
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from engine import __version__

from .main_window import MainWindow
from .settings import open_settings

ICON = Path(__file__).resolve().parent.parent / "packaging" / "cuedeck.svg"


def main(argv: list[str] | None = None) -> int:
    if sys.platform == "linux" and not any(os.environ.get(v) for v in
                                           ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        print("cuedeck: no display to open a window on (DISPLAY is not set); run it in a "
              "desktop session, or on a headless machine: xvfb-run -a make run", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("CueDeck")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cuedeck")
    app.setWindowIcon(QIcon(str(ICON)))
    window = MainWindow(open_settings())
    window.show()
    return app.exec()
