"""The open timeline: its undo history, the cues it uses, and saving. Every edit goes through
`apply`, becomes one undo step, and is saved to the library (on the library thread) at once,
so a timeline reopens exactly as it was left."""

from PySide6.QtCore import QObject, Signal

from engine.errors import BadInput
from engine.cue import Cue
from engine.timeline import Clip, History, Timeline


class TimelineDocument(QObject):
    changed = Signal(object)      # Timeline: after every edit, undo, redo or open
    names_changed = Signal(list)  # the library's timeline names
    cues_changed = Signal()       # more cues are known (labels, waveforms, durations)
    edited = Signal(object)       # History: an edit was made on it (one step for the window's undo)
    error = Signal(str)           # one line

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background
        self.history: History | None = None
        self._saved_name: str | None = None  # the name it has in the library
        self.cues: dict[int, Cue] = {}

    @property
    def timeline(self) -> Timeline | None:
        return self.history.current if self.history else None

    # -- which timeline ------------------------------------------------------------------

    def refresh_names(self, then_open: bool = False, prefer: str | None = None) -> None:
        """Announce the library's timeline names; with `then_open`, open `prefer` (or the
        first) when none is open."""
        def done(names: list[str]) -> None:
            self.names_changed.emit(names)
            if then_open and names and self.history is None:
                self.open(prefer if prefer in names else names[0])
        self._background.library(lambda lib: lib.timeline_names(), done, self.error.emit)

    def open(self, name: str) -> None:
        def load(lib):
            timeline = lib.timeline(name)
            return timeline, lib.get_many(timeline.cue_ids())
        self._background.library(load, self._opened, self.error.emit)

    def create(self, name: str) -> None:
        def created(timeline: Timeline) -> None:
            self._opened((timeline, []))
            self.refresh_names()
        self._background.library(lambda lib: lib.create_timeline(name), created, self.error.emit)

    def delete(self) -> None:
        if self.history is None:
            return
        name = self._saved_name

        def deleted(_) -> None:
            self.history, self._saved_name = None, None
            self.changed.emit(None)
            self.refresh_names(then_open=True)
        self._background.library(lambda lib: lib.delete_timeline(name), deleted, self.error.emit)

    def _opened(self, loaded) -> None:
        timeline, cues = loaded
        self.history = History(timeline)
        self._saved_name = timeline.name
        self.cues.update((c.id, c) for c in cues)
        self.cues_changed.emit()
        self.changed.emit(timeline)

    # -- editing -------------------------------------------------------------------------

    def apply(self, edit) -> bool:
        """Run `edit(timeline) -> Timeline` as one undoable step; a refused edit shows its
        reason and changes nothing."""
        if self.history is None:
            self.error.emit("open or create a timeline first (the New button above the timeline)")
            return False
        try:
            new = edit(self.history.current)
        except BadInput as e:
            self.error.emit(str(e))
            return False
        if new != self.history.current:
            self.history.push(new)
            self._save()
            self.edited.emit(self.history)
        return True

    def add_cues(self, ids: list[int], track: int, at: float, regions: dict | None = None) -> None:
        """Place cues one after another on `track` from `at` (they come from the library);
        `regions` maps a cue id to the (start, end) seconds of it to place."""
        regions = regions or {}

        def place(cues: list[Cue]) -> None:
            self.cues.update((c.id, c) for c in cues)
            self.cues_changed.emit()

            def edit(t: Timeline) -> Timeline:
                start = at
                while len(t.tracks) <= track:
                    t = t.add_track()
                for cue in cues:
                    first, last = regions.get(cue.id) or (0.0, cue.duration)
                    first, last = max(first, 0.0), min(last, cue.duration)
                    t = t.add_clip(track, Clip(cue.id, start, first, last, cue.duration, repeats=cue.loop))
                    start += last - first
                return t
            self.apply(edit)
        self._background.library(lambda lib: lib.get_many(ids), place, self.error.emit)

    def add_stems(self, cue_id: int, at: float) -> None:
        """Cue `cue_id`'s stems, a track each, lined up with its clips (or at `at` when it is
        not on the timeline); `cue_id` may be one of the stems."""
        def read(lib):
            cue = lib.get(cue_id)
            parent = lib.get(cue.parent_id) if cue.role and cue.parent_id else cue
            return parent, lib.stems_of(parent.id)

        def place(found) -> None:
            parent, stems = found
            if not stems:
                self.error.emit(f"cue {parent.id} has no stems yet: split it first (S)")
                return
            self.cues.update((c.id, c) for c in (parent, *stems))
            self.cues_changed.emit()
            whole = Clip(parent.id, at, 0.0, parent.duration, parent.duration, repeats=parent.loop)
            self.apply(lambda t: t.add_stems(whole, [(s.role, s.id) for s in stems]))
        self._background.library(read, place, self.error.emit)

    def undo(self, history: History | None = None) -> None:
        """Undo on the open timeline (`history`: only if it is still the one open)."""
        if self._current(history) and self.history.can_undo():
            self.history.undo()
            self._save()

    def redo(self, history: History | None = None) -> None:
        if self._current(history) and self.history.can_redo():
            self.history.redo()
            self._save()

    def _current(self, history: History | None) -> bool:
        if history is not None and history is not self.history:
            self.error.emit("that edit was made on a timeline that is no longer open; open it to undo there")
            return False
        return self.history is not None

    def _save(self) -> None:
        timeline, old = self.history.current, self._saved_name
        self._saved_name = timeline.name
        self.changed.emit(timeline)

        def failed(message: str) -> None:
            self._saved_name = old  # e.g. a rename to a name already taken
            self.error.emit(f"timeline not saved: {message}")
        self._background.library(lambda lib: lib.save_timeline(timeline, old_name=old),
                                 lambda _: old != timeline.name and self.refresh_names(), failed)
