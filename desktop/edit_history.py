"""One undo history for the whole window: cue edits (rating, tags, keep, CatID, delete) and
timeline edits, in the order they were made, so Ctrl+Z undoes the last thing done."""

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Signal

LIMIT = 200


@dataclass
class Step:
    label: str  # "rating of cue 12"
    undo: Callable[[], None]
    redo: Callable[[], None]


class EditHistory(QObject):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._done: list[Step] = []
        self._undone: list[Step] = []

    def push(self, label: str, undo, redo) -> None:
        """Record an edit that has just been made."""
        self._done.append(Step(label, undo, redo))
        del self._done[:-LIMIT]
        self._undone.clear()
        self.changed.emit()

    def undo(self) -> str | None:
        """Undo the last edit; its label, or None when there is nothing to undo."""
        if not self._done:
            return None
        step = self._done.pop()
        step.undo()
        self._undone.append(step)
        self.changed.emit()
        return step.label

    def redo(self) -> str | None:
        if not self._undone:
            return None
        step = self._undone.pop()
        step.redo()
        self._done.append(step)
        self.changed.emit()
        return step.label

    def next_undo(self) -> str | None:
        return self._done[-1].label if self._done else None

    def next_redo(self) -> str | None:
        return self._undone[-1].label if self._undone else None
