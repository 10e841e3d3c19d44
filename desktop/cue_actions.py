"""What the user can do to cues, in one place, for every view that shows cues. Edits take a
list: the library's multi-selection rates, tags, keeps or deletes many cues as one step."""

from engine import ucs
from engine.cue import Cue


class CueActions:
    def __init__(self, store, audition, more_like_this=lambda cue: None, add_to_timeline=lambda cues: None,
                 transcribe=lambda cue: None, split=lambda cue: None, stems_to_tracks=lambda cue_id: None):
        self.store = store
        self.audition = audition
        self.more_like_this = more_like_this  # generate continuations of a cue
        self.add_to_timeline = add_to_timeline  # place cues at the end of the timeline's first track
        self.transcribe = transcribe  # its notes to a MIDI file beside it (a job of its own)
        self.split = split  # into drums, bass, other and vocals stems: child cues (an engine job)
        self.stems_to_tracks = stems_to_tracks  # a split cue's stems (by the cue's or a stem's id), a track each

    def perform(self, action: tuple, cues: list[Cue]) -> bool:
        """Carry out a key's action (see cue_keys); False for those a view handles itself."""
        name, value = action
        if name == "toggle":
            self.toggle_play(cues[0])
        elif name == "rate":
            self.rate(cues, value)
        elif name == "keep":
            self.toggle_keep(cues)
        elif name == "loop":
            self.audition.loop = not self.audition.loop
        elif name == "more":
            self.more_like_this(cues[0])
        elif name == "delete":
            self.delete(cues)
        elif name == "timeline":
            self.add_to_timeline(cues)
        elif name == "midi":
            for cue in cues:
                self.transcribe(cue)
        elif name == "stems":
            for cue in cues:
                self.split(cue)
        elif name == "suggested_catid":
            self.file_under_suggestion(cues)
        else:
            return False
        return True

    def toggle_play(self, cue: Cue) -> None:
        self.audition.toggle(cue)

    def toggle_preview(self, preview) -> None:
        self.audition.toggle_preview(preview)

    def play(self, cue: Cue, start: float = 0.0, end: float | None = None) -> None:
        self.audition.play(cue, start, end)

    def seek(self, cue: Cue, fraction: float) -> None:
        self.audition.seek(cue, fraction * cue.duration)

    def rate(self, cues: list[Cue], rating: int) -> None:
        self.store.rate(cues, rating)

    def toggle_keep(self, cues: list[Cue]) -> None:
        self.store.set_keep(cues, not all(c.keep for c in cues))

    def add_tags(self, cues: list[Cue], text: str) -> None:
        tags = [t for t in text.split(",") if t.strip()]
        if tags:
            self.store.add_tags(cues, tags)

    def remove_tag(self, cue: Cue, tag: str) -> None:
        self.store.remove_tags([cue], [tag])

    def set_catid(self, cues: list[Cue], text: str) -> None:
        text = text.strip()
        changed = [c for c in cues if text.lower() != (c.catid or "").lower()]
        if changed:
            self.store.set_catid(changed, text or None)

    def file_under_suggestion(self, cues: list[Cue]) -> None:
        """Each cue under the first CatID suggested for its prompt and tags (Shift+C)."""
        chosen: dict[str, list[Cue]] = {}
        for cue in cues:
            for found in ucs.suggest(cue.prompt, *cue.tags, n=1):
                chosen.setdefault(found.catid, []).append(cue)
        for catid, group in chosen.items():
            self.set_catid(group, catid)

    def delete(self, cues: list[Cue]) -> None:
        self.store.delete(cues)
