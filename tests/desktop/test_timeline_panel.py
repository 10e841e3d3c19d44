"""The timeline in the real window: drop cues from the library, move, trim and fade with the
mouse, undo and redo, mute, play the mix through PortAudio, export — then read it all back."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from wavinfo import WavInfoReader

from desktop.audition import MIX
from desktop.export_dialog import ExportDialog
from desktop.main_window import MainWindow
from desktop.settings import open_settings
from desktop.timeline_view import ROW, RULER
from engine import credentials
from engine.library import Library
from engine.request import GenerationRequest
from engine.timeline import Clip

RATE = 32000


@pytest.fixture
def cue_ids():
    """Two cues with known audio (2 s and 3 s), stored as the worker stores them."""
    rng = np.random.default_rng(5)
    ids = []
    with Library() as lib:
        for seconds, prompt in [(2, "glass shard hits"), (3, "slow metallic drone")]:
            request = GenerationRequest(prompt, model="tiny-music", candidates=1, duration=1, seed=seconds)
            audio = (0.2 * rng.standard_normal((1, 1, seconds * RATE))).astype(np.float32)
            ids.append(lib.add_batch(request, audio, RATE, [seconds], f"job-{seconds}", "1.3.0")[0].id)
    return ids


@pytest.fixture
def window(qtbot, cue_ids):
    w = MainWindow(open_settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.timeline_doc.create("Cut 1")
    qtbot.waitUntil(lambda: w.timeline_doc.timeline is not None)
    w.timeline.canvas.resize(900, RULER + 2 * ROW)
    yield w
    w.close()


def drop(canvas, mime, pos: QPoint) -> None:
    """What a drag from the library ends with: enter, move, drop at `pos` on the canvas."""
    actions = Qt.DropAction.CopyAction
    for event in (QDragEnterEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
                  QDragMoveEvent(pos, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
                  QDropEvent(QPointF(pos), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(canvas, event)


def library_row_mime(window, row: int):
    model = window.library.model
    return model.mimeData([model.index(row, 0)])


def stored():
    with Library() as lib:
        return lib.timeline("Cut 1")


def test_drop_move_trim_fade_undo_redo_and_reopen(qtbot, window, cue_ids):
    doc, canvas = window.timeline_doc, window.timeline.canvas
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2)
    # the library lists newest first: row 1 is the 2 s "glass shard hits"
    qtbot.waitUntil(lambda: window.library.model.cue_at(1) is not None)  # its page has loaded
    drop(canvas, library_row_mime(window, 1), QPoint(int(canvas.x_of(1.1)), RULER + ROW // 2))
    qtbot.waitUntil(lambda: bool(doc.timeline.tracks[0].clips))
    clip = doc.timeline.tracks[0].clips[0]
    assert (clip.cue_id, clip.at, clip.end) == (cue_ids[0], 1.0, 2.0)  # snapped to the 0.5 s grid

    doc.apply(lambda t: t.add_track())
    y1 = RULER + ROW // 2
    body = QPoint(int(canvas.x_of(2.0)), y1)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=body)
    qtbot.mouseMove(canvas, QPoint(int(canvas.x_of(4.0)), RULER + ROW + ROW // 2))
    assert canvas._preview is not None and canvas._preview.tracks[1].clips  # a live preview
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(4.0)), RULER + ROW + ROW // 2))
    moved = doc.timeline.tracks[1].clips[0]
    assert doc.timeline.tracks[0].clips == () and moved.at == 3.0

    y2 = RULER + ROW + ROW // 2
    right_edge = QPoint(int(canvas.x_of(moved.stop)) - 2, y2)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=right_edge)
    qtbot.mouseMove(canvas, QPoint(int(canvas.x_of(4.5)), y2))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(4.5)), y2))
    trimmed = doc.timeline.tracks[1].clips[0]
    assert (trimmed.at, trimmed.start, trimmed.end) == (3.0, 0.0, 1.5)

    top_left = QPoint(int(canvas.x_of(3.0)) + 2, RULER + ROW + 4)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=top_left)
    qtbot.mouseMove(canvas, QPoint(int(canvas.x_of(3.5)), RULER + ROW + 4))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(3.5)), RULER + ROW + 4))
    assert doc.timeline.tracks[1].clips[0].fade_in == pytest.approx(0.5, abs=1.0 / canvas.zoom)

    window.timeline._headers[0].mute.click()
    assert doc.timeline.tracks[0].mute
    role = window.timeline._headers[1].role
    assert role.currentText() == "Auto"
    role.setCurrentIndex(role.findData("FX"))
    role.activated.emit(role.currentIndex())  # as a user's pick
    assert doc.timeline.tracks[1].role == "FX"
    qtbot.waitUntil(lambda: stored() == doc.timeline)  # every edit is saved at once

    edits = doc.timeline
    window.undo_action.trigger()  # role
    assert doc.timeline.tracks[1].role == "" and role.currentText() == "Auto"
    window.undo_action.trigger()  # mute
    window.undo_action.trigger()  # fade
    assert doc.timeline.tracks[1].clips[0].fade_in == 0 and not doc.timeline.tracks[0].mute
    window.undo_action.trigger()  # trim
    assert doc.timeline.tracks[1].clips[0].end == 2.0
    canvas.setFocus()
    for _ in range(4):
        qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.timeline == edits and not window.redo_action.isEnabled()
    qtbot.waitUntil(lambda: stored() == edits)

    window.close()  # reopens exactly as left
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.timeline_doc.timeline == edits)
    again.close()


def test_play_the_mix_then_export_from_the_dialog(qtbot, window, cue_ids, tmp_path):
    doc, panel = window.timeline_doc, window.timeline
    doc.add_cues(cue_ids, 0, 0.5)  # both cues end to end from 0.5 s
    qtbot.waitUntil(lambda: len(doc.timeline.tracks[0].clips) == 2)
    assert [c.at for c in doc.timeline.tracks[0].clips] == [0.5, 2.5]
    doc.apply(lambda t: t.set_loop(1.0, 3.0))
    panel.loop_button.setChecked(True)  # the null device is unclocked: a loop keeps it playing
    panel.play_button.click()
    qtbot.waitUntil(lambda: window.audition.cue_id == MIX and window.audition.playing)
    qtbot.waitUntil(lambda: panel.play_button.text() == "■ Stop")
    qtbot.waitUntil(lambda: 1.0 <= panel.canvas.playhead <= 3.0)
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.audition.playing and panel.play_button.text() == "▶ Play")

    panel.export()
    dialog = panel.findChild(ExportDialog)
    assert dialog.licences.text() == f"MIT (CueDeck test model: untrained random weights, produces noise) (cues {cue_ids[0]}, {cue_ids[1]})"
    assert not dialog.commercial.isChecked()
    dialog.commercial.setChecked(True)  # test weights are MIT: a commercial delivery may use them
    assert dialog.sign.isChecked() and "local authority" in dialog.signer.text() and not dialog.custom.isEnabled()
    dialog.loudness.setCurrentIndex(dialog.loudness.findData("custom"))
    assert dialog.custom.isEnabled()
    dialog.target.setValue(-20.0)
    dialog.ceiling.setValue(-3.0)
    dialog.prompts.setChecked(False)
    dialog.folder.setText(str(tmp_path / "exports"))
    dialog.accept()
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(), timeout=20_000)
    assert "mix -20.0 LUFS" in window.statusBar().currentMessage() and window.settings.get("export/commercial")
    assert (window.settings.get("export/loudness"), window.settings.get("export/lufs"),
            window.settings.get("export/private")) == ("custom", -20.0, True)
    folder = tmp_path / "exports" / "Cut 1"
    mix = folder / "Cut 1 - Mix.wav"
    info = soundfile.info(mix)
    assert (info.samplerate, info.subtype, info.frames) == (48000, "PCM_24", int(5.5 * 48000))
    assert WavInfoReader(mix).bext.originator == "CueDeck"
    assert (folder / "Cut 1.otio").is_file() and (folder / "provenance.csv").is_file()
    assert (folder / "Cut 1.aaf").is_file() and window.settings.get("export/aaf") == "linked"
    signed = credentials.read(mix)
    assert signed.state == "valid" and all("prompt" not in c for c in signed.provenance["cues"])
    panel.export()  # the next export starts from these choices
    again = [d for d in panel.findChildren(ExportDialog) if d.isVisible()][-1]
    assert again.loudness.currentData() == "custom" and again.target.value() == -20.0 and not again.prompts.isChecked()
    again.reject()


def test_a_bad_export_folder_is_reported_and_nothing_is_left(qtbot, window, cue_ids, tmp_path):
    doc, panel = window.timeline_doc, window.timeline
    doc.add_cues(cue_ids[:1], 0, 0.0)
    qtbot.waitUntil(lambda: bool(doc.timeline.tracks[0].clips))
    out = tmp_path / "out"
    out.mkdir()
    blocker = out / "file"
    blocker.write_text("")
    panel._start_export(doc.timeline, {"out_dir": blocker / "x", "rate": 48000, "bits": "24", "fmt": "wav"})
    qtbot.waitUntil(lambda: "export failed: cannot write to" in window.statusBar().currentMessage())
    assert panel.export_button.isEnabled() and not panel.progress.isVisible()
    assert sorted(p.name for p in out.iterdir()) == ["file"]
    assert Path(blocker).read_text() == ""


def test_a_damaged_cue_on_the_timeline_is_named_when_played_or_exported(qtbot, window, cue_ids, tmp_path):
    doc, panel = window.timeline_doc, window.timeline
    doc.add_cues(cue_ids[:1], 0, 0.0)
    qtbot.waitUntil(lambda: bool(doc.timeline.tracks[0].clips))
    with Library() as lib:
        path = lib.get(cue_ids[0]).path
    path.write_bytes(path.read_bytes()[:100])  # truncated by a crash or a sync tool
    panel.play_button.click()
    qtbot.waitUntil(lambda: "is damaged" in window.statusBar().currentMessage())
    assert f"cue {cue_ids[0]}" in window.statusBar().currentMessage()
    assert panel.play_button.text() == "▶ Play" and not window.audition.playing and window.isVisible()
    assert cue_ids[0] in panel.canvas.damaged and cue_ids[1] not in panel.canvas.damaged  # the clip shows it
    out = tmp_path / "out"
    panel._start_export(doc.timeline, {"out_dir": out, "rate": 48000, "bits": "24", "fmt": "wav"})
    qtbot.waitUntil(lambda: "export failed" in window.statusBar().currentMessage())
    assert "is damaged" in window.statusBar().currentMessage()
    assert panel.export_button.isEnabled() and list(out.iterdir()) == []


def test_export_to_a_full_disk_from_the_window_says_so_and_leaves_nothing(qtbot, window, cue_ids, small_disk):
    from conftest import fill_disk

    doc, panel = window.timeline_doc, window.timeline
    doc.add_cues(cue_ids, 0, 0.0)
    qtbot.waitUntil(lambda: len(doc.timeline.tracks[0].clips) == 2)
    fill_disk(small_disk, leave=100_000)
    panel._start_export(doc.timeline, {"out_dir": small_disk / "exports", "rate": 48000, "bits": "24", "fmt": "wav"})
    qtbot.waitUntil(lambda: "export failed" in window.statusBar().currentMessage())
    assert "not enough disk space" in window.statusBar().currentMessage()
    assert panel.export_button.isEnabled() and list((small_disk / "exports").iterdir()) == []


def test_a_loop_cue_dragged_past_its_end_repeats_and_other_cues_stop_at_theirs(qtbot, window, cue_ids):
    request = GenerationRequest("drum loop", candidates=1, duration=1.0, seed=9, loop=True).validated()
    audio = (0.2 * np.random.default_rng(9).standard_normal((1, 1, RATE))).astype(np.float32)
    with Library() as lib:
        loop = lib.add_batch(request, audio, RATE, [9], "job-loop", "1.3.0")[0]
    doc, canvas = window.timeline_doc, window.timeline.canvas
    window.library.refresh()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 3 and window.library.model.cue_at(0) is not None)
    drop(canvas, library_row_mime(window, 0), QPoint(int(canvas.x_of(0.1)), RULER + ROW // 2))
    qtbot.waitUntil(lambda: bool(doc.timeline.tracks[0].clips))
    assert doc.timeline.tracks[0].clips[0].repeats
    y = RULER + ROW // 2
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(1.0)) - 2, y))
    qtbot.mouseMove(canvas, QPoint(int(canvas.x_of(3.5)), y))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(3.5)), y))
    (clip,) = doc.timeline.tracks[0].clips
    assert (clip.cue_id, clip.start, clip.end) == (loop.id, 0.0, 3.5)  # three and a half times round
    canvas.grab()  # paints the repeats (dotted lines, ⟲ ×3.5) without error
    doc.apply(lambda t: t.add_clip(0, Clip(cue_ids[0], 4.0, 0.0, 2.0, 2.0)))
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(6.0)) - 2, y))
    qtbot.mouseMove(canvas, QPoint(int(canvas.x_of(8.0)), y))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(canvas.x_of(8.0)), y))
    assert doc.timeline.tracks[0].clips[1].end == 2.0  # not a loop: it stops at its cue's end


def test_the_start_timecode_and_frame_rate_are_set_above_the_timeline_and_undo(qtbot, window):
    panel = window.timeline
    assert panel.start_tc.text() == "00:00:00:00" and panel.fps.currentText() == "24 fps"
    panel.fps.setCurrentIndex(panel.fps.findText("25 fps"))
    panel.fps.activated.emit(panel.fps.currentIndex())
    panel.start_tc.setText("10:00:00:00")
    panel.start_tc.editingFinished.emit()
    qtbot.waitUntil(lambda: (stored().start_timecode, stored().frame_rate) == ("10:00:00:00", "25"))
    panel.start_tc.setText("10:00:00:25")  # no frame 25 at 25 fps: refused in one line, the field shows what holds
    panel.start_tc.editingFinished.emit()
    assert "frames 00–24" in window.statusBar().currentMessage() and panel.start_tc.text() == "10:00:00:00"
    window.undo()
    qtbot.waitUntil(lambda: stored().start_timecode == "00:00:00:00")
    assert panel.start_tc.text() == "00:00:00:00" and panel.fps.currentText() == "25 fps"
