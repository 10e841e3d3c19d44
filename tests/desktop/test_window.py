"""The real window, driven as a user drives it: real worker, real library, real PortAudio."""

import os
import signal

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.main_window import MainWindow
from desktop.settings import open_settings
from desktop.settings_dialog import SettingsDialog
from engine import paths, ucs
from engine.library import Library
from engine.request import GenerationRequest

JOB_TIMEOUT = 120_000  # ms: the first job starts the worker (torch import)


def generate(qtbot, window, prompt="warm analog pad", n=2, duration=1.0):
    window.prompt.prompt.setPlainText(prompt)
    window.prompt.candidates.setValue(n)
    window.prompt.duration.setValue(duration)
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.grid.groups, window.prompt_error.text()
    return window.grid.groups[0]


def saved(cue_id):
    with Library() as lib:
        return lib.get(cue_id)


def test_typing_a_prompt_starts_the_engine_and_loads_the_model_picked(qtbot, window):
    log = paths.log_dir() / "worker.log"
    said = lambda: log.read_text().count("prepared tiny-sfx (fp32)") if log.exists() else 0
    before = said()
    qtbot.keyClicks(window.prompt.prompt, "rain")
    window.prompt.model.setCurrentIndex(window.prompt.model.findData("tiny-sfx"))  # after typing: again
    qtbot.waitUntil(lambda: said() > before, timeout=JOB_TIMEOUT)
    assert window.engine.worker_pid


def test_generate_then_rate_tag_catid_keep_and_play_from_the_keyboard(qtbot, window):
    group = generate(qtbot, window)
    qtbot.waitUntil(lambda: all(card.cue for card in group.cards), timeout=JOB_TIMEOUT)
    first, second = group.cards
    assert window.grid.current is first
    qtbot.waitUntil(lambda: first.wave.has_overview)  # overview computed off the UI thread
    assert "done" in window.jobs.row(group.job_id).bar.format()

    grid = window.grid
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_4)
    qtbot.keyClick(grid, Qt.Key.Key_K)
    qtbot.keyClick(grid, Qt.Key.Key_T)
    assert first.tag_edit.hasFocus()
    qtbot.keyClicks(first.tag_edit, "Dark, slow swell")
    qtbot.keyClick(first.tag_edit, Qt.Key.Key_Return)
    qtbot.keyClick(grid, Qt.Key.Key_C)
    assert first.catid.hasFocus()
    qtbot.keyClicks(first.catid, "ambforst")
    qtbot.keyClick(first.catid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: saved(first.cue.id).catid == "AMBForst")
    cue = saved(first.cue.id)
    assert (cue.rating, cue.keep, cue.tags) == (4, True, ("dark", "slow swell"))
    qtbot.waitUntil(lambda: first.stars.rating == 4 and first.keep.isChecked())

    qtbot.keyClick(grid, Qt.Key.Key_L)  # loop, so the null device keeps playing
    assert window.audition.loop
    qtbot.keyClick(grid, Qt.Key.Key_Right)  # auto-audition (on by default) plays the card moved to
    assert grid.current is second
    playing_second = lambda: window.audition.playing and window.audition.cue_id == second.cue.id
    qtbot.waitUntil(lambda: playing_second() and second.play.text() == "■")
    suggested = second.catid.placeholderText()  # "⇧C XXXX": what the prompt suggests
    assert suggested.split()[1] == ucs.suggest("warm analog pad")[0].catid
    qtbot.keyClick(grid, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: saved(second.cue.id).catid == suggested.split()[1])
    qtbot.waitUntil(lambda: second.catid.text() == suggested.split()[1])
    qtbot.keyClick(grid, Qt.Key.Key_Space)  # stops it
    qtbot.waitUntil(lambda: not window.audition.playing and second.play.text() == "▶")
    qtbot.keyClick(grid, Qt.Key.Key_Space)  # and plays it again
    qtbot.waitUntil(lambda: playing_second() and second.play.text() == "■")
    qtbot.waitUntil(lambda: second.wave.playhead is not None)
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.audition.playing and second.play.text() == "▶")
    window.auto_action.setChecked(False)
    window._set_auto(False)

    qtbot.mouseClick(first.wave, Qt.MouseButton.LeftButton, pos=first.wave.rect().center())
    qtbot.waitUntil(lambda: window.audition.playing and window.audition.cue_id == first.cue.id)
    window.audition.stop()
    qtbot.waitUntil(lambda: not window.audition.playing)


def test_no_audio_device_is_a_message_not_a_crash(qtbot, window):
    cue = add_cues("door slam", 1, seed=4)[0]
    window.audition.set_device("no such device")
    window.audition.play(cue)
    qtbot.waitUntil(lambda: "no usable audio output" in window.statusBar().currentMessage())
    assert window.isVisible() and not window.audition.playing


def test_cancel_stops_the_job_and_keeps_nothing(qtbot, window):
    group = generate(qtbot, window, n=8, duration=30.0)
    row = window.jobs.row(group.job_id)
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=JOB_TIMEOUT)
    qtbot.mouseClick(row.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled at" in row.status.text(), timeout=30_000)
    assert row.bar.isHidden() and row.status.isVisible()  # not a full bar that reads as done
    assert not window.grid.groups
    with Library() as lib:
        assert lib.search() == []


def test_killed_worker_shows_on_the_job_and_the_next_job_works(qtbot, window):
    group = generate(qtbot, window, n=8, duration=30.0)
    row = window.jobs.row(group.job_id)
    qtbot.waitUntil(lambda: row.bar.value() > 0, timeout=JOB_TIMEOUT)
    os.kill(window.engine.worker_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: row.status.isVisible(), timeout=30_000)
    assert "stopped unexpectedly" in row.status.text()
    assert "stopped unexpectedly" in group.status.text() and group.cards == []
    assert window.isVisible()
    group = generate(qtbot, window, prompt="after the crash", n=1)
    qtbot.waitUntil(lambda: group.cards[0].cue is not None, timeout=JOB_TIMEOUT)


def test_a_damaged_cue_played_from_its_card_is_marked_and_the_window_lives(qtbot, window):
    cues = add_cues("hail", 2, seed=4)
    window.grid.add_job("hail", GenerationRequest("hail", candidates=2, duration=1.0, seed=4).validated())
    window.grid.job_done("hail", cues)
    damaged, fine = window.grid.groups[0].cards
    cues[0].path.write_bytes(cues[0].path.read_bytes()[:-4] + b"\x00\x00\x80\x7f")  # a bad sample
    damaged.toggle_play()
    # the mark may come first from the waveform overview, the message from the play after it
    qtbot.waitUntil(lambda: damaged.damage is not None and "is damaged" in window.statusBar().currentMessage())
    assert damaged.length.text() == "⚠ damaged" and f"cue {cues[0].id}" in damaged.length.toolTip()
    assert not window.audition.playing
    assert fine.damage is None and fine.length.text() == "1.0 s" and window.isVisible()
    window.store.rate([cues[0]], 3)  # an edit redraws the card: the mark stays
    qtbot.waitUntil(lambda: damaged.stars.rating == 3)
    assert damaged.length.text() == "⚠ damaged"


def test_cards_are_built_a_turn_apart_and_early_results_fill_them_all(qtbot, window):
    request = GenerationRequest("wind", candidates=8, duration=1.0, seed=5).validated()
    window.grid.add_job("early", request)
    group = window.grid.groups[0]
    assert group.built == []  # none in the call that queued the job: the UI thread moves on
    cues = add_cues("wind", 8, seed=5)
    window.grid.job_done("early", cues)  # before any card had its turn
    assert [card.cue for card in group.built] == cues
    positions = {group.grid.getItemPosition(group.grid.indexOf(card))[:2] for card in group.built}
    assert len(positions) == 8  # each in its own cell
    window.grid.add_job("later", request)
    later = window.grid.groups[0]
    qtbot.waitUntil(lambda: len(later.built) == 8)  # the event loop builds them by itself


def test_bad_input_is_shown_inline_and_starts_nothing(qtbot, window):
    window.prompt.prompt.setPlainText("   ")
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.prompt_error.isVisible() and "prompt is empty" in window.prompt_error.text()
    assert not window.grid.groups and not window.engine.busy
    window.prompt.prompt.setPlainText("pad")
    window.prompt.model.setCurrentIndex(window.prompt.model.findData("musicgen-small"))
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "not ready on this machine" in window.prompt_error.text()
    assert "cuedeck" not in window.prompt_error.text()  # the window names its own action
    assert window.prompt_action.isVisible() and window.prompt_action.text() == "Install musicgen-small…"
    assert window.prompt.install.isVisible()  # the model picker offers it too
    qtbot.mouseClick(window.prompt_action, Qt.MouseButton.LeftButton)
    dialog = window.models_dialog
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.selected_name() == "musicgen-small")
    assert dialog.install.isEnabled()
    dialog.close()
    window.prompt.model.setCurrentIndex(window.prompt.model.findData("tiny-music"))
    assert window.prompt_error.isHidden() and window.prompt_action.isHidden()  # no stale error


def add_cues(prompt, n, seed, model="tiny-music"):
    with Library() as lib:
        request = GenerationRequest(prompt, model=model, candidates=n, duration=1.0, seed=seed).validated()
        audio = np.random.default_rng(seed).uniform(-0.5, 0.5, (n, 1, 16000)).astype(np.float32)
        return lib.add_batch(request, audio, 16000, request.candidate_seeds(), f"job{seed}", "1.3.0")


def test_library_search_and_filters_answer_off_the_ui_thread(qtbot, cuedeck_home):
    rain = add_cues("rain on a tin roof", 3, seed=1, model="tiny-sfx")
    add_cues("warm analog pad", 2, seed=2)
    with Library() as lib:
        lib.add_tags(rain[0].id, ["wet"])
        lib.rate(rain[1].id, 5)
    window = MainWindow(open_settings())
    qtbot.addWidget(window)
    window.show()
    panel = window.library
    qtbot.waitUntil(lambda: panel.model.rowCount() == 5)
    panel.search.setText("tin roof")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3)
    panel.search.clear()
    panel.rating.setCurrentIndex(panel.rating.findData(5))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    panel.rating.setCurrentIndex(0)
    panel.model_filter.setCurrentIndex(panel.model_filter.findData("tiny-music"))
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2)
    panel.model_filter.setCurrentIndex(0)
    panel.tag.setEditText("wet")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1 and panel.model.cue_at(0) is not None)
    assert panel.model.cue_at(0).id == rain[0].id
    mime = panel.model.mimeData([panel.model.index(0, 2)])
    assert [u.toLocalFile() for u in mime.urls()] == [str(rain[0].path)]  # drag out as a file
    panel.view.setFocus()
    panel.view.setCurrentIndex(panel.model.index(0, 2))
    qtbot.keyClick(panel.view, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: saved(rain[0].id).rating == 3)
    qtbot.waitUntil(lambda: panel.model.cue_at(0).rating == 3)
    window.close()


def test_layout_and_last_settings_persist_between_runs(qtbot):
    first = MainWindow(open_settings())
    qtbot.addWidget(first)
    first.show()
    first.prompt.prompt.setPlainText("granular ice texture")
    first.prompt.negative.setText("wind")
    first.prompt.model.setCurrentIndex(first.prompt.model.findData("tiny-sfx"))
    first.prompt.candidates.setValue(6)
    first.prompt.duration.setValue(3.5)
    first.prompt.fixed_seed.setChecked(True)
    first.prompt.seed.setValue(42)
    first.resize(1200, 700)
    first.close()
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    again.show()
    request = again.prompt.request()
    assert (request.prompt, request.negative, request.model, request.candidates, request.duration,
            request.seed) == ("granular ice texture", "wind", "tiny-sfx", 6, 3.5, 42)
    assert again.height() == 700  # (the offscreen screen clamps a restored width to its own)
    again.close()


def test_notes_typed_in_the_details_panel_are_saved(qtbot, window):
    cue = add_cues("door slam", 1, seed=3)[0]
    window.details.show_cue(cue)
    qtbot.keyClicks(window.details.notes, "too boomy")
    qtbot.waitUntil(lambda: saved(cue.id).notes == "too boomy")


def test_settings_dialog_lists_output_devices_and_keeps_the_choice(qtbot, window):
    window.open_settings()
    dialog = window.findChild(SettingsDialog)
    qtbot.waitUntil(lambda: dialog.device.isEnabled(), timeout=10_000)
    assert dialog.device.count() >= 2  # "System default" and ALSA's default (null) device
    dialog.device.setCurrentIndex(1)
    dialog.auto_audition.setChecked(False)
    dialog.accept()
    assert window.settings.get("audio/device") == dialog.device.itemData(1)
    assert not window.auto_action.isChecked() and not window.grid.auto_audition


def test_settings_send_new_jobs_to_a_cluster_with_a_warning_and_refuse_a_bad_address(qtbot, window, monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    window.open_settings()
    dialog = window.findChild(SettingsDialog)
    dialog.cluster.setText("gpu-box")
    assert dialog.cluster_note.isVisible() and "is not a cluster address" in dialog.cluster_note.text()
    dialog.accept()
    assert dialog.isVisible() and window.settings.get("engine/cluster") == ""  # refused: nothing changed
    dialog.cluster.setText(" 10.0.0.5:6379 ")
    assert "anyone who can reach it can run code on it" in dialog.cluster_note.text()
    dialog.accept()
    assert not dialog.isVisible() and window.settings.get("engine/cluster") == "10.0.0.5:6379"
    assert window.engine.cluster == "10.0.0.5:6379"
    window.open_settings()
    again = [d for d in window.findChildren(SettingsDialog) if d.isVisible()][0]
    assert again.cluster.text() == "10.0.0.5:6379"
    again.cluster.clear()
    assert not again.cluster_note.isVisible()
    again.accept()
    assert window.engine.cluster == ""  # back to this computer


def test_settings_are_declared_typed_and_a_value_that_no_longer_converts_reads_as_its_default(cuedeck_home):
    from PySide6.QtCore import QSettings

    settings = open_settings()
    settings.set("prompt/candidates", 6)
    settings.set("audio/loop", True)
    settings.sync()
    again = open_settings()
    assert again.get("prompt/candidates") == 6 and again.get("audio/loop") is True
    assert again.get("prompt/duration") == 8.0 and again.get("window/state") is None  # defaults
    raw = QSettings(str(cuedeck_home / "config" / "desktop.ini"), QSettings.Format.IniFormat)
    raw.setValue("prompt/candidates", "lots")
    raw.sync()
    assert open_settings().get("prompt/candidates") == 4
    with pytest.raises(KeyError):
        settings.set("prompt/colour", "blue")  # every key is declared in desktop/settings.py


def test_a_cluster_that_cannot_be_reached_offers_to_generate_on_this_computer(qtbot, window):
    from PySide6.QtWidgets import QPushButton

    window.engine.use_cluster("127.0.0.1:1")  # nothing listens there
    group = generate(qtbot, window, prompt="offered here", n=2)
    row = window.jobs.row(group.job_id)
    assert row.title.toolTip().endswith(" · on Ray cluster 127.0.0.1:1")
    qtbot.waitUntil(lambda: "cannot reach the Ray cluster at 127.0.0.1:1" in group.status.text(), timeout=30_000)
    (here,) = [b for b in group.findChildren(QPushButton) if b.text() == "Generate on this computer"]
    qtbot.mouseClick(here, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.grid.groups) == 1 and window.grid.groups[0] is not group)
    again = window.grid.groups[0]
    qtbot.waitUntil(lambda: all(card.cue for card in again.cards), timeout=JOB_TIMEOUT)
    assert [card.cue.place for card in again.cards] == [None, None]  # made here
    assert [card.cue.prompt for card in again.cards] == ["offered here"] * 2
    assert window.engine.cluster == "127.0.0.1:1"  # the setting stays: the next job tries the cluster again
