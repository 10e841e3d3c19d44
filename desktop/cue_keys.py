"""The audition keys, shared by the candidate grid and the library list, and the Help text."""

from PySide6.QtCore import Qt

SHORTCUTS = [
    ("Candidates and library", [
        ("Space", "play / stop"), ("← → ↑ ↓", "move between candidates"), ("L", "loop on / off"),
        ("0–5", "rate (0 clears)"), ("T", "tag"), ("K", "keep"), ("C", "UCS CatID"),
        ("Shift+C", "file under the CatID suggested for the prompt and tags"),
        ("M", "more like this: continue the cue"), ("A", "add to the timeline (end of track 1)"),
        ("N", "notes: transcribe to MIDI (then drag the card's MIDI button to a DAW)"),
        ("S", "split into stems: drums, bass, other, vocals (then Stems to tracks)"),
        ("Delete", "delete (Ctrl+Z brings it back)"),
        ("Esc", "leave a text field, back to the candidates"),
        ("Click waveform", "play from there"), ("Drag on waveform", "select a region: play or drag just it"),
        ("Ctrl+Enter", "generate"), ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo the last edit"),
        ("Ctrl+F", "search the library"), ("Right-click a library row", "play, add, reveal, export, delete")]),
    ("Timeline", [
        ("Space", "play / stop the mix from the playhead"), ("Home", "playhead to the start"),
        ("+ / −, Ctrl+wheel", "zoom"), ("← →", "nudge the selected clip by the grid"),
        ("G", "gain of the selected clip"), ("Delete", "remove the selected clip"),
        ("Drag a clip", "move (Shift: no snap)"), ("Drag a clip's edge", "trim"),
        ("Drag a clip's top corner", "fade in / out"), ("Drag in the ruler", "set the loop region"),
        ("Right-click a clip", "gain, fades, remove")]),
]


def cue_action(event) -> tuple[str, int | None] | None:
    """The action a key press asks of the current cue, or None."""
    if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier & ~Qt.KeyboardModifier.ShiftModifier:
        return None
    key = event.key()
    if key == Qt.Key.Key_Space:
        return ("toggle", None)
    if key == Qt.Key.Key_C and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
        return ("suggested_catid", None)
    if Qt.Key.Key_0 <= key <= Qt.Key.Key_5:
        return ("rate", key - Qt.Key.Key_0)
    return {Qt.Key.Key_L: ("loop", None), Qt.Key.Key_T: ("tag", None),
            Qt.Key.Key_K: ("keep", None), Qt.Key.Key_C: ("catid", None),
            Qt.Key.Key_M: ("more", None), Qt.Key.Key_A: ("timeline", None), Qt.Key.Key_N: ("midi", None),
            Qt.Key.Key_S: ("stems", None),
            Qt.Key.Key_Delete: ("delete", None)}.get(key)
