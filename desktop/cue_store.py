"""Library reads and edits for the desktop, on the library thread, announced by signals.

Every view (cards, library list, details) listens to `changed` instead of calling each other,
so an edit made anywhere shows everywhere. Every edit a user makes is one step of the
window's undo history. A deleted cue is hidden at once and removed from the library only
when the window closes, so Ctrl+Z brings it back whole (and a crash loses nothing).
"""

from PySide6.QtCore import QObject, Signal

from engine import analysis
from engine.cue import Cue
from engine.errors import NotFound
from engine.library import normalise_tag

MEASURE_BATCH = 20  # cues per child process of the background pass (its start costs about 2 s)


class CueStore(QObject):
    changed = Signal(object)  # Cue, after an edit was saved
    removed = Signal(list)  # cue ids, hidden (deleted, or about to be)
    restored = Signal(list)  # cue ids, back after an undone delete
    error = Signal(str)  # one line
    measuring = Signal(int, int)  # the background pass: cues measured so far, cues to measure

    def __init__(self, background, history, parent=None):
        super().__init__(parent)
        self._background = background
        self._history = history
        self.deleted: set[int] = set()  # hidden now, removed from the library on close
        self._measurer = None  # the background pass's child process, while it runs
        self._stop_measuring = False

    # -- edits (each one undoable) ---------------------------------------------------------

    def rate(self, cues: list[Cue], rating: int) -> None:
        self._edit_each(cues, f"rating {rating}", lambda lib, c: lib.rate(c.id, rating),
                        lambda lib, c: lib.rate(c.id, c.rating))

    def set_keep(self, cues: list[Cue], keep: bool) -> None:
        self._edit_each(cues, "keep" if keep else "unkeep", lambda lib, c: lib.set_keep(c.id, keep),
                        lambda lib, c: lib.set_keep(c.id, c.keep))

    def set_catid(self, cues: list[Cue], catid: str | None) -> None:
        self._edit_each(cues, f"CatID {catid or 'cleared'}", lambda lib, c: lib.set_catid(c.id, catid),
                        lambda lib, c: lib.set_catid(c.id, c.catid), revert=True)

    def add_tags(self, cues: list[Cue], tags: list[str]) -> None:
        self._edit_each(cues, "tags " + ", ".join(tags), lambda lib, c: lib.add_tags(c.id, tags),
                        lambda lib, c: lib.remove_tags(c.id, [t for t in _clean(tags) if t not in c.tags]))

    def remove_tags(self, cues: list[Cue], tags: list[str]) -> None:
        self._edit_each(cues, "removed tag " + ", ".join(tags), lambda lib, c: lib.remove_tags(c.id, tags),
                        lambda lib, c: lib.add_tags(c.id, [t for t in c.tags if t in _clean(tags)]))

    def set_notes(self, cue: Cue, notes: str) -> None:
        self._background.library(lambda lib: lib.set_notes(cue.id, notes), self.changed.emit, self.error.emit)

    def delete(self, cues: list[Cue]) -> None:
        """Hide the cues now (undoable); refused for cues a timeline uses."""
        ids = [c.id for c in cues if c.id not in self.deleted]

        def checked(used: dict) -> None:
            if used:
                cue_id, names = next(iter(used.items()))
                self.error.emit(f"cue {cue_id} is on the timeline {names[0]!r}: remove its clips "
                                "first; nothing was deleted")
                return
            self._hide(ids)
            self._history.push(f"delete {_count(ids)}", lambda: self._unhide(ids), lambda: self._hide(ids))
        if ids:
            self._background.library(lambda lib: lib.timelines_using(ids), checked, self.error.emit)

    def commit_deletes(self) -> None:
        """Remove the hidden cues from the library for good (the window is closing)."""
        ids, self.deleted = sorted(self.deleted), set()

        def remove(lib) -> None:
            for cue_id in ids:
                lib.delete(cue_id)
        if ids:
            self._background.library(remove, None, self.error.emit)

    # -- reads -------------------------------------------------------------------------

    def find(self, done, **query) -> None:
        """`done(ids)` with the ids of the matching cues, newest first (deleted ones left out)."""
        self._background.library(lambda lib: lib.find(**query),
                                 lambda ids: done([i for i in ids if i not in self.deleted]),
                                 self.error.emit)

    def fetch(self, ids: list[int], done) -> None:
        self._background.library(lambda lib: lib.get_many(ids), done, self.error.emit)

    def tags(self, done) -> None:
        self._background.library(lambda lib: lib.tags(), done, self.error.emit)

    # -- the background pass ---------------------------------------------------------------

    def measure_missing(self, done: int = 0, unreadable: tuple[int, ...] = ()) -> None:
        """Measure the cues made before CueDeck measured them, newest first, a batch at a
        time in a child process (engine.analysis); each shows its measures once saved."""
        def next_batch(lib):
            return lib.unmeasured(MEASURE_BATCH, skip=unreadable), lib.count_unmeasured() - len(unreadable)

        def measure(found) -> None:
            cues, left = found
            self.measuring.emit(done, done + left)
            if cues:
                self._background.files(
                    lambda: analysis.measure_files_apart([c.path for c in cues], self._measuring_in),
                    lambda measures: save(cues, measures), self.error.emit)

        def save(cues: list[Cue], measures: list) -> None:
            def write(lib):
                saved, failed = [], []
                for cue, found in zip(cues, measures):
                    if found is None:
                        failed.append(cue.id)  # unreadable: `library check` says why
                        continue
                    try:
                        saved.append(lib.set_measures(cue.id, found))
                    except NotFound:  # deleted meanwhile
                        pass
                return saved, failed

            def written(result) -> None:
                saved, failed = result
                for cue in saved:
                    self.changed.emit(cue)
                self.measure_missing(done + len(saved), unreadable + tuple(failed))

            self._background.library(write, written, self.error.emit)

        self._background.library(next_batch, measure, self.error.emit)

    def stop_measuring(self) -> None:
        """The window is closing: the pass goes on next time."""
        self._stop_measuring = True
        if self._measurer is not None:
            self._measurer.kill()

    def _measuring_in(self, child) -> None:  # (on a file thread)
        self._measurer = child
        if self._stop_measuring:
            child.kill()

    # -- internals ---------------------------------------------------------------------

    def _edit_each(self, cues: list[Cue], what: str, do, undo, revert: bool = False) -> None:
        """Run `do(lib, cue)` for every cue as one undoable step; `undo(lib, cue)` puts each
        back as it was before (the cues as given hold the values shown before the edit)."""
        cues = list(cues)
        if not cues:
            return
        label = f"{what} of {_count([c.id for c in cues])}"

        def run(job) -> None:
            def failed(message: str) -> None:
                self.error.emit(message)
                if revert:  # put the views back to what is saved
                    for cue in cues:
                        self.changed.emit(cue)
            self._background.library(lambda lib: [job(lib, c) for c in cues],
                                     lambda saved: [self.changed.emit(c) for c in saved], failed)
        run(do)
        self._history.push(label, lambda: run(undo), lambda: run(do))

    def _hide(self, ids: list[int]) -> None:
        self.deleted.update(ids)
        self.removed.emit(ids)

    def _unhide(self, ids: list[int]) -> None:
        self.deleted.difference_update(ids)
        self.restored.emit(ids)


def _clean(tags: list[str]) -> list[str]:
    """Tags as the library stores them."""
    return [normalise_tag(t) for t in tags]


def _count(ids: list[int]) -> str:
    return f"cue {ids[0]}" if len(ids) == 1 else f"{len(ids)} cues"
