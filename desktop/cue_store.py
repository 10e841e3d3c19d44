"""Library reads and edits for the desktop, on the library thread, announced by signals.

Every view (cards, library list, details) listens to `changed` instead of calling each other,
so an edit made anywhere shows everywhere.
"""

from PySide6.QtCore import QObject, Signal

from engine.library import Cue


class CueStore(QObject):
    changed = Signal(object)  # Cue, after an edit was saved
    removed = Signal(int)  # cue id
    added = Signal(str, list)  # job id, [Cue]: a job's cues are in the library
    error = Signal(str)  # one line

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background

    def rate(self, cue: Cue, rating: int) -> None:
        self._edit(lambda lib: lib.rate(cue.id, rating))

    def add_tags(self, cue: Cue, tags: list[str]) -> None:
        self._edit(lambda lib: lib.add_tags(cue.id, tags))

    def remove_tags(self, cue: Cue, tags: list[str]) -> None:
        self._edit(lambda lib: lib.remove_tags(cue.id, tags))

    def set_catid(self, cue: Cue, catid: str | None) -> None:
        self._edit(lambda lib: lib.set_catid(cue.id, catid), revert=cue)

    def set_keep(self, cue: Cue, keep: bool) -> None:
        self._edit(lambda lib: lib.set_keep(cue.id, keep))

    def set_notes(self, cue: Cue, notes: str) -> None:
        self._edit(lambda lib: lib.set_notes(cue.id, notes))

    def delete(self, cue: Cue) -> None:
        self._background.library(lambda lib: lib.delete(cue.id),
                                 lambda _: self.removed.emit(cue.id), self.error.emit)

    def find(self, done, **query) -> None:
        """`done(ids)` with the ids of the matching cues, newest first."""
        self._background.library(lambda lib: lib.find(**query), done, self.error.emit)

    def fetch(self, ids: list[int], done) -> None:
        self._background.library(lambda lib: lib.get_many(ids), done, self.error.emit)

    def tags(self, done) -> None:
        self._background.library(lambda lib: lib.tags(), done, self.error.emit)

    def load_job(self, job_id: str, ids: list[int]) -> None:
        self._background.library(lambda lib: [lib.get(i) for i in ids],
                                 lambda cues: self.added.emit(job_id, cues), self.error.emit)

    def _edit(self, job, revert: Cue | None = None) -> None:
        def failed(message: str) -> None:
            self.error.emit(message)
            if revert is not None:  # put the view back to what is saved
                self.changed.emit(revert)

        self._background.library(job, self.changed.emit, failed)
