"""Starts the desktop app."""

import sys

from PySide6.QtWidgets import QApplication

from engine import __version__

from .main_window import MainWindow
from .settings import open_settings


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("CueDeck")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cuedeck")
    window = MainWindow(open_settings())
    window.show()
    return app.exec()
