"""What the user can do to a cue, in one place, for every view that shows cues."""

from engine.library import Cue


class CueActions:
    def __init__(self, store, audition, more_like_this=lambda cue: None):
        self.store = store
        self.audition = audition
        self.more_like_this = more_like_this  # generate continuations of a cue

    def perform(self, action: tuple, cue: Cue) -> bool:
        """Carry out a key's action (see cue_keys); False for those a view handles itself."""
        name, value = action
        if name == "toggle":
            self.toggle_play(cue)
        elif name == "rate":
            self.rate(cue, value)
        elif name == "keep":
            self.toggle_keep(cue)
        elif name == "loop":
            self.audition.loop = not self.audition.loop
        elif name == "more":
            self.more_like_this(cue)
        else:
            return False
        return True

    def toggle_play(self, cue: Cue) -> None:
        self.audition.toggle(cue)

    def toggle_preview(self, preview) -> None:
        self.audition.toggle_preview(preview)

    def play(self, cue: Cue) -> None:
        self.audition.play(cue)

    def seek(self, cue: Cue, fraction: float) -> None:
        self.audition.seek(cue, fraction * cue.duration)

    def rate(self, cue: Cue, rating: int) -> None:
        self.store.rate(cue, rating)

    def toggle_keep(self, cue: Cue) -> None:
        self.store.set_keep(cue, not cue.keep)

    def add_tags(self, cue: Cue, text: str) -> None:
        tags = [t for t in text.split(",") if t.strip()]
        if tags:
            self.store.add_tags(cue, tags)

    def remove_tag(self, cue: Cue, tag: str) -> None:
        self.store.remove_tags(cue, [tag])

    def set_catid(self, cue: Cue, text: str) -> None:
        text = text.strip()
        if text.lower() != (cue.catid or "").lower():
            self.store.set_catid(cue, text or None)
