"""The threading rule, machine-checked: while a user generates, auditions, rates, tags,
searches, builds a timeline, plays its mix and exports it, the UI thread never opens the
library, reads or writes an audio file or touches the audio device (each of those can wait
on the disk or the hardware)."""

import threading

import soundfile
from PySide6.QtCore import Qt

from desktop.audition import MIX
from desktop.main_window import MainWindow
from desktop.settings import open_settings
from engine import bwf
from engine.library import Library
from engine.player import Player

BLOCKING = [(Library, name) for name in ("__init__", "find", "get", "get_many", "rate", "add_tags",
                                         "remove_tags", "set_catid", "set_keep", "set_notes",
                                         "delete", "tags", "timeline_names", "timeline",
                                         "create_timeline", "save_timeline", "delete_timeline")]
BLOCKING += [(Player, "_sync"), (Player, "_open"), (soundfile, "read"), (bwf, "write")]


def test_ui_thread_never_waits_on_library_files_or_audio_device(qtbot, monkeypatch, tmp_path):
    on_ui_thread = []

    def watch(owner, name):
        original = getattr(owner, name)

        def watched(*args, **kwargs):
            if threading.current_thread() is threading.main_thread():
                on_ui_thread.append(f"{getattr(owner, '__name__', owner)}.{name}")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, watched)

    for owner, name in BLOCKING:
        watch(owner, name)

    window = MainWindow(open_settings())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.prompt.prompt.setPlainText("ui thread check")
    window.prompt.candidates.setValue(2)
    window.prompt.duration.setValue(1.0)
    qtbot.mouseClick(window.prompt.generate, Qt.MouseButton.LeftButton)
    assert window.grid.groups, window.prompt_error.text()
    group = window.grid.groups[0]
    qtbot.waitUntil(lambda: all(card.cue for card in group.cards), timeout=120_000)
    card = group.cards[0]
    grid = window.grid
    grid.setFocus()
    window.audition.loop = True
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.audition.playing and card.wave.playhead is not None)
    qtbot.keyClick(grid, Qt.Key.Key_5)
    qtbot.keyClick(grid, Qt.Key.Key_K)
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: card.stars.rating == 5 and card.keep.isChecked())
    window.library.search.setText("ui thread")
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2
                    and window.library.model.cue_at(0) is not None)
    window.audition.stop()
    qtbot.waitUntil(lambda: not window.audition.playing)

    doc = window.timeline_doc
    doc.create("UI check")
    qtbot.waitUntil(lambda: doc.timeline is not None)
    doc.add_cues([c.cue.id for c in group.cards], 0, 0.0)
    qtbot.waitUntil(lambda: len(doc.timeline.tracks[0].clips) == 2)
    window.undo_action.trigger()
    window.redo_action.trigger()
    window.timeline.loop_button.setChecked(False)
    window.timeline.play_button.click()
    qtbot.waitUntil(lambda: window.audition.cue_id == MIX)
    window.timeline._start_export(doc.timeline, {"out_dir": tmp_path / "exports", "rate": 48000,
                                                 "bits": "24", "fmt": "wav"})
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(), timeout=20_000)
    window.close()
    assert on_ui_thread == []
