"""Cues to MIDI (engine.transcription): Basic Pitch's real model and weights, on melodies with
known notes made with numpy, scored with mir_eval; the MIDI file read back with mido."""

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from conftest import run_cli
from engine import transcription
from engine.errors import Cancelled
from engine.export import export_timeline
from engine.library import Library
from engine.request import GenerationRequest
from engine.timeline import Clip, Timeline
from synthetic_music import RATE, WAVES, line, note_f_measure


@pytest.mark.parametrize("wave", WAVES)
@pytest.mark.parametrize("seed", [1, 2])
def test_monophonic_lines_are_transcribed_note_for_note(wave, seed):
    audio, reference = line(seed, wave)
    found = []
    notes = transcription.transcribe(np.repeat(audio, 2, axis=0), RATE, found.append)  # stereo in
    assert note_f_measure(reference, notes) >= 0.9, (reference, notes)
    assert found == sorted(found) and found[-1] == 1.0


def test_transcription_stops_when_cancelled_and_refuses_audio_that_is_not_finite():
    audio, _ = line(3, "saw", seconds=30)
    seen = []
    with pytest.raises(Cancelled):
        transcription.transcribe(audio, RATE, seen.append, should_cancel=lambda: len(seen) >= 2)
    assert len(seen) == 2
    audio[0, 100] = np.nan
    with pytest.raises(transcription.CueDeckError, match="NaN or infinite"):
        transcription.transcribe(audio, RATE)


def test_the_midi_file_carries_the_tempo_and_the_notes_on_its_grid(tmp_path):
    notes = [transcription.Note(0.0, 0.5, 60, 100), transcription.Note(0.5, 1.0, 64, 90),
             transcription.Note(1.0, 2.0, 67, 80)]
    path = transcription.write_midi(notes, tmp_path / "line.mid", 96.0, "cue 7: a line")
    midi = mido.MidiFile(path)  # an independent reader
    tempos = [round(mido.tempo2bpm(m.tempo), 3) for track in midi.tracks for m in track if m.type == "set_tempo"]
    assert tempos == [96.0]
    ticks_per_beat, beat = midi.ticks_per_beat, 60.0 / 96.0
    ons, now = [], 0
    for message in midi.tracks[1]:
        now += message.time
        if message.type == "note_on" and message.velocity:
            ons.append((message.note, now, message.velocity))
    assert ons == [(n.pitch, round(n.start / beat * ticks_per_beat), n.velocity) for n in notes]
    assert [m.name for m in midi.tracks[1] if m.type == "track_name"] == ["cue 7: a line"]
    assert transcription.note_name(60) == "C4" and transcription.note_name(69) == "A4"
    assert not list(tmp_path.glob(".*.part"))


def _cue_of(lib: Library, audio: np.ndarray, bpm: float | None = None, seed: int = 5):
    request = GenerationRequest(prompt="a lead line", model="tiny-music", duration=audio.shape[-1] / RATE,
                                candidates=1, seed=seed, bpm=bpm)
    return lib.add_batch(request, audio[None], RATE, [seed], "job", "1.3.0")[0]


def test_cli_writes_a_cues_midi_beside_it_at_its_tempo_and_the_library_keeps_it_with_the_cue(cuedeck_home, tmp_path):
    audio, reference = line(4, "triangle", seconds=6)
    with Library() as lib:
        cue = _cue_of(lib, audio, bpm=90.0)
    done = run_cli("midi", str(cue.id), "--out", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["midi"] == str(tmp_path / f"cue-{cue.id}.mid") and result["bpm"] == 90.0
    assert result["notes"] == len(transcription.read_midi(cue.midi_path)) >= len(reference) - 1
    assert (tmp_path / f"cue-{cue.id}.mid").read_bytes() == cue.midi_path.read_bytes()
    midi = mido.MidiFile(cue.midi_path)
    assert [round(mido.tempo2bpm(m.tempo), 3) for m in midi.tracks[0] if m.type == "set_tempo"] == [90.0]
    assert note_f_measure(reference, transcription.read_midi(cue.midi_path)) >= 0.9

    with Library() as lib:
        assert lib.check().ok  # the .mid is the cue's, not an orphan
        lib.delete(cue.id)
    assert not cue.midi_path.exists()


def test_cli_midi_refuses_what_it_cannot_do_in_one_line(cuedeck_home, tmp_path):
    done = run_cli("midi", "99")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no cue with id 99" in done.stderr
    audio, _ = line(5, "sine", seconds=2)
    with Library() as lib:
        cue = _cue_of(lib, audio)
    soundfile.write(cue.path, np.zeros((100, 1)), RATE)  # changed behind the library's back
    done = run_cli("midi", str(cue.id))
    assert done.returncode != 0 and done.stderr.count("\n") == 1 and "damaged" in done.stderr
    assert not cue.midi_path.exists()
    with Library() as lib:
        good = _cue_of(lib, line(6, "sine", seconds=2)[0], seed=6)
    done = run_cli("midi", str(good.id), "--out", str(tmp_path / "missing" / "x.mid"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "nothing was written" in done.stderr


def test_a_timeline_exports_each_stems_notes_at_its_tempo_and_a_cancelled_export_leaves_nothing(cuedeck_home, tmp_path):
    lead, lead_notes = line(7, "saw", seconds=4)
    bass, bass_notes = line(8, "triangle", seconds=4)
    with Library() as lib:
        lead_cue, bass_cue = _cue_of(lib, lead[:, :4 * RATE], seed=7), _cue_of(lib, bass[:, :4 * RATE], seed=8)
        timeline = (Timeline("Theme", tempo=100.0).add_track("Bass")
                    .add_clip(0, Clip(lead_cue.id, 1.0, 0.0, 4.0, 4.0)).add_clip(1, Clip(bass_cue.id, 2.5, 0.0, 4.0, 4.0)))
        lib.save_timeline(timeline)
    done = run_cli("export", "Theme", "--out", str(tmp_path), "--midi", "--json")
    assert done.returncode == 0, done.stderr
    folder = Path(json.loads(done.stdout)["folder"])
    for stem, reference, at in (("Theme - 01 MX Track 1", lead_notes, 1.0), ("Theme - 02 MX Bass", bass_notes, 2.5)):
        midi = mido.MidiFile(folder / f"{stem}.mid")  # beside its stem, at the timeline's tempo
        assert (folder / f"{stem}.wav").is_file()
        assert [round(mido.tempo2bpm(m.tempo), 3) for m in midi.tracks[0] if m.type == "set_tempo"] == [100.0]
        placed = [(m, s + at, e + at) for m, s, e in reference if e <= 4.0]
        assert note_f_measure(placed, transcription.read_midi(folder / f"{stem}.mid")) >= 0.9

    with Library() as lib:
        seen = []
        with pytest.raises(Cancelled):
            export_timeline(lib, "Theme", tmp_path / "again", midi=True,
                            on_progress=lambda f, stage: seen.append(stage),
                            should_cancel=lambda: "transcribing the stems to MIDI" in seen)
    assert not list((tmp_path / "again").iterdir())
