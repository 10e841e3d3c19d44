"""The audition keys, shared by the candidate grid and the library list."""

from PySide6.QtCore import Qt

SHORTCUTS = [
    ("Space", "play / stop"), ("← → ↑ ↓", "move between candidates"), ("L", "loop"),
    ("0–5", "rate"), ("T", "tag"), ("K", "keep"), ("C", "UCS CatID"),
    ("M", "more like this: continue the cue"),
    ("Click waveform", "play from there"), ("Ctrl+Enter", "generate"),
]


def cue_action(event) -> tuple[str, int | None] | None:
    """The action a key press asks of the current cue, or None."""
    if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier & ~Qt.KeyboardModifier.ShiftModifier:
        return None
    key = event.key()
    if key == Qt.Key.Key_Space:
        return ("toggle", None)
    if Qt.Key.Key_0 <= key <= Qt.Key.Key_5:
        return ("rate", key - Qt.Key.Key_0)
    return {Qt.Key.Key_L: ("loop", None), Qt.Key.Key_T: ("tag", None),
            Qt.Key.Key_K: ("keep", None), Qt.Key.Key_C: ("catid", None),
            Qt.Key.Key_M: ("more", None)}.get(key)
