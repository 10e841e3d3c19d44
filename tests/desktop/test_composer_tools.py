"""Composer's tools in the window: a cue's notes to MIDI as a job with progress and cancel (a
child process runs Basic Pitch), drawn over the card's waveform, the file ready to drag out."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QToolButton

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


def split_group(window):
    return next((g for g in window.grid._groups if g.header.text().startswith("<b>Stems of cue")), None)


def test_s_splits_the_current_cue_into_stem_cards_that_go_to_the_timeline_a_track_each(separator, qtbot, window):
    cue, = show_cues(window, 4.0, [31])
    window.timeline_doc.create("Score")
    qtbot.waitUntil(lambda: window.timeline_doc.timeline is not None)
    window.timeline_doc.add_cues([cue.id], 0, 1.5)
    qtbot.waitUntil(lambda: len(window.timeline_doc.timeline.tracks[0].clips) == 1)
    window.grid.setFocus()
    assert window.grid.current.cue.id == cue.id and window.grid.current.stems.isEnabled()
    qtbot.keyClick(window.grid, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: split_group(window) is not None)
    group = split_group(window)
    row = next(r for r in window.jobs._rows.values() if r.title.toolTip().startswith(f"Stems of cue {cue.id}"))
    qtbot.waitUntil(lambda: row.finished, timeout=120_000)
    assert row.bar.format() == "done", row.status.text()
    qtbot.waitUntil(lambda: all(card.cue for card in group.cards))
    assert [card.cue.role for card in group.cards] == ["drums", "bass", "other", "vocals"]
    for card in group.cards:
        assert card.title.text() == f"<b>{card.cue.role.capitalize()}</b> <small>of cue {cue.id}</small>"
        assert not card.stems.isEnabled() and card.cue.duration == cue.duration

    to_tracks = next(b for b in group.findChildren(QToolButton) if b.text() == "Stems to tracks")
    to_tracks.click()
    qtbot.waitUntil(lambda: len(window.timeline_doc.timeline.tracks) == 5)
    tracks = window.timeline_doc.timeline.tracks
    assert [t.name for t in tracks[1:]] == [f"{r} (cue {cue.id})" for r in ("drums", "bass", "other", "vocals")]
    assert [t.clips[0].at for t in tracks[1:]] == [1.5] * 4
    assert [t.clips[0].cue_id for t in tracks[1:]] == [card.cue.id for card in group.cards]

    bass = group.cards[1].cue  # from a stem's row in the library: its cue's stems again
    window.library.refresh()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 5 and all(
        window.library.model.cue_at(r) for r in range(5)))
    window.library.view.selectRow(next(r for r in range(5) if window.library.model.cue_at(r).id == bass.id))
    window.library._context_menu(window.library.view.rect().center())
    labels = [a.text() for a in window.library.context_menu.actions()]
    assert "Stems to tracks" in labels and not any(label.startswith("Split") for label in labels)
    window.library.context_menu.close()
    next(a for a in window.library.context_menu.actions() if a.text() == "Stems to tracks").trigger()
    qtbot.waitUntil(lambda: len(window.timeline_doc.timeline.tracks) == 9)

    window.actions.split(cue)  # split before: the same stems at once, no engine job
    qtbot.waitUntil(lambda: sum(g.header.text().startswith("<b>Stems of cue") for g in window.grid._groups) == 2)
    again = split_group(window)
    qtbot.waitUntil(lambda: all(card.cue for card in again.cards))
    assert [c.cue.id for c in again.cards] == [c.cue.id for c in group.cards]


def test_without_the_separator_a_split_says_how_to_get_it_with_the_install_button(qtbot, window, tmp_path, monkeypatch):
    from conftest import use_hf_home

    use_hf_home(monkeypatch, tmp_path / "empty")
    cue, = show_cues(window, 2.0, [41])
    window.actions.split(cue)
    qtbot.waitUntil(lambda: split_group(window) is not None and "File › Models" in split_group(window).status.text())
    group = split_group(window)
    assert "demucs stem separator htdemucs" in group.status.text()
    install = next(b for b in group.findChildren(QPushButton) if b.text() == "Install htdemucs…")
    install.click()
    qtbot.waitUntil(lambda: window.models_dialog is not None and window.models_dialog.selected_name() == "htdemucs")
    window.models_dialog.close()
