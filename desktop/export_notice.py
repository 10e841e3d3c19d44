"""After an export: a non-modal notice with what was written and a button that opens the
folder in the platform's file manager. It stays until closed, and never takes the focus."""

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton


class ExportNotice(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.text = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.open_folder.clicked.connect(self._open)
        close = QToolButton(text="✕", autoRaise=True, toolTip="Close this notice")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.open_folder)
        layout.addWidget(close)
        self.folder = None
        self.hide()

    def show_result(self, summary: str, folder) -> None:
        self.folder = folder
        self.text.setText(summary)
        self.show()

    def _open(self) -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
