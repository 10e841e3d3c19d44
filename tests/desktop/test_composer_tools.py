"""Composer's tools in the window: a cue's notes to MIDI as a job with progress and cancel (a
child process runs Basic Pitch), drawn over the card's waveform, the file ready to drag out."""

import numpy as np
from PySide6.QtCore import Qt

from engine import transcription
from engine.library import Library
from engine.request import GenerationRequest
from synthetic_music import RATE, line


def show_cues(window, seconds: float, seeds: list[int]):
    """Cues of note lines, shown as a job's cards."""
    request = GenerationRequest("a lead line", candidates=len(seeds), duration=seconds, seed=seeds[0]).validated()
    audio = np.stack([line(seed, "triangle", seconds=seconds)[0][:, :int(seconds * RATE)] for seed in seeds])
    with Library() as lib:
        cues = lib.add_batch(request, audio, RATE, seeds, f"j{seeds[0]}", "1.3.0")
    window.grid.add_job(f"j{seeds[0]}", request)
    window.grid.job_done(f"j{seeds[0]}", cues)
    return cues


def only_row(window):
    rows = [r for r in window.jobs._rows.values() if r.job_id.startswith("midi-")]
    return rows[-1] if rows else None


def test_n_transcribes_the_current_cue_as_a_job_and_the_card_shows_its_notes(qtbot, window):
    cue, = show_cues(window, 6.0, [11])
    card = window.grid.current
    assert card.cue.id == cue.id and card.midi.text() == "MIDI" and not card.wave.notes
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: only_row(window) is not None)
    row = only_row(window)
    assert row.title.toolTip() == f"MIDI of cue {cue.id} · a lead line"
    qtbot.waitUntil(lambda: row.finished, timeout=60_000)
    assert row.bar.format() == "done" and cue.midi_path.is_file()
    qtbot.waitUntil(lambda: len(card.wave.notes) > 0)
    assert card.wave.notes == transcription.read_midi(cue.midi_path)
    assert card.midi.text() == "MIDI ⇲" and card.midi.file == cue.midi_path and "Drag" in card.midi.toolTip()
    qtbot.keyClick(window.grid, Qt.Key.Key_N)  # made once: no second job
    assert [r for r in window.jobs._rows.values() if r.job_id.startswith("midi-")] == [row]


def test_transcriptions_queue_one_at_a_time_cancel_from_their_rows_and_stop_with_the_window(qtbot, window):
    long_one, other = show_cues(window, 60.0, [21, 22])
    window.actions.perform(("midi", None), [long_one, other])
    first, second = [r for r in window.jobs._rows.values() if r.job_id.startswith("midi-")]
    qtbot.waitUntil(lambda: first.bar.value() > 0, timeout=60_000)
    assert second.bar.format() == "queued"  # one process at a time
    second.cancel.click()
    assert second.finished and "cancelled" in second.status.text()
    first.cancel.click()
    qtbot.waitUntil(lambda: first.finished)
    assert "cancelled" in first.status.text() and not long_one.midi_path.exists()

    window.library.refresh()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2 and all(
        window.library.model.cue_at(r) for r in range(2)))
    window.library.view.selectRow(next(r for r in range(2) if window.library.model.cue_at(r).id == other.id))
    window.library._context_menu(window.library.view.rect().center())
    action = next(a for a in window.library.context_menu.actions() if a.text().startswith("Transcribe"))
    assert action.text() == f"Transcribe cue {other.id} to MIDI\tN"
    window.library.context_menu.close()
    action.trigger()
    third = only_row(window)
    assert third not in (first, second)
    qtbot.waitUntil(lambda: third.bar.value() > 0, timeout=60_000)
    window.close()  # while it runs: killed, nothing half-written (no_leftovers checks the process)
    assert not other.midi_path.exists() and not list(other.midi_path.parent.glob(".*.part"))
