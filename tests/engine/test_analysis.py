"""Every cue measured (engine.analysis): tempo and key on synthetic audio with known answers,
true peak, brightness and onsets; kept in the library, which filters and sorts by them, and
measured after the fact for cues made before (the background pass)."""

import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile

from conftest import ROOT, run_cli
from engine import analysis
from engine.cue import ranked
from engine.errors import BadInput
from engine.library import Library
from engine.request import GenerationRequest
from synthetic_music import RATE, beats, in_key


@pytest.mark.parametrize("bpm, pattern, seconds", [
    (70, "drums", 8), (84.5, "clicks", 6), (97.3, "drums", 10), (120, "clicks", 8), (128, "drums", 5),
    (143.7, "drums", 12), (166, "clicks", 8), (178, "drums", 8)])
def test_tempo_of_drum_patterns_and_clicks_is_found_within_two_bpm(bpm, pattern, seconds):
    measures = analysis.measure(beats(bpm, seconds, pattern, seed=int(bpm)), RATE)
    assert measures.bpm is not None and abs(measures.bpm - bpm) <= 2, measures
    assert measures.bpm_confidence > 0.3
    hits_per_second = (2 if pattern == "drums" else 1) * bpm / 60  # eighths or beats
    assert 0.6 * hits_per_second < measures.onset_rate < 1.1 * hits_per_second, measures


@pytest.mark.parametrize("tonic, mode, kind", [(0, "major", "chords"), (9, "minor", "chords"), (6, "major", "scale"),
                                               (1, "minor", "scale"), (10, "major", "chords"), (4, "minor", "chords")])
def test_key_of_chords_and_scales_is_found(tonic, mode, kind):
    measures = analysis.measure(in_key(tonic, mode, kind), RATE)
    assert measures.key == f"{analysis.NOTES[tonic]} {mode}" and measures.key_confidence > 0.6, measures


def test_processes_measure_one_at_a_time_so_none_fills_the_kernel_cache_beside_another():
    """Two processes compiling librosa's kernels into its cache together can leave an index that
    pairs one signature with another's code (seen: a worker and the test run segfaulting in
    peak_pick). Here another process holds the lock: measuring waits for it, then goes on."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from engine.analysis import kernel_cache_lock\n"
         "with kernel_cache_lock():\n    print('held', flush=True); sys.stdin.readline()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    found = []
    measuring = threading.Thread(target=lambda: found.append(analysis.measure(in_key(0, "major", "chords"), RATE)))
    measuring.start()
    deadline = time.monotonic() + 30
    while not any(" -> FLOCK " in line for line in open("/proc/locks")):  # the kernel's list of waiters
        assert time.monotonic() < deadline, "measuring never waited for the lock"
        time.sleep(0.01)
    assert not found
    holder.communicate("\n", timeout=30)
    measuring.join(timeout=60)
    assert found and found[0].key == "C major"


def test_true_peak_sees_between_the_samples_and_silence_has_no_measures():
    t = np.arange(RATE) / RATE
    sine = 0.5 * np.sin(2 * np.pi * (RATE / 4) * t + np.pi / 4)[None]  # every sample at ±0.354
    found = analysis.measure(sine.astype(np.float32), RATE)
    assert abs(found.true_peak_db - 20 * math.log10(0.5)) < 0.3 and found.true_peak_db > 20 * math.log10(0.36)
    silent = analysis.measure(np.zeros((2, RATE), np.float32), RATE)
    assert (silent.bpm, silent.key, silent.true_peak_db, silent.onset_rate) == (None, None, None, 0.0)


def test_brightness_tells_a_low_hum_from_hiss():
    t = np.arange(2 * RATE) / RATE
    hum = analysis.measure((0.3 * np.sin(2 * np.pi * 110 * t))[None].astype(np.float32), RATE)
    hiss = analysis.measure((0.1 * np.diff(np.random.default_rng(1).standard_normal(t.size + 1)))[None]
                            .astype(np.float32), RATE)
    assert hum.tone == "dark" and hum.centroid_hz < 300
    assert hiss.tone == "bright" and hiss.centroid_hz > 5000


@pytest.mark.parametrize("text, key", [("A minor", "A minor"), ("Am", "A minor"), ("a min", "A minor"),
                                       ("F#", "F# major"), ("Gb major", "F# major"), ("bbm", "Bb minor"),
                                       ("D♭", "C# major")])
def test_keys_are_read_as_people_write_them(text, key):
    assert analysis.parse_key(text) == key


@pytest.mark.parametrize("text", ["H", "", "A dorian", "minor"])
def test_a_key_that_is_not_one_is_refused_with_examples(text):
    with pytest.raises(ValueError, match="is not a key: give one such as"):
        analysis.parse_key(text)


def test_tempo_ranges_and_closeness():
    assert analysis.parse_bpm_range("120") == (118, 122)
    assert analysis.parse_bpm_range("130-110") == (110, 130)
    with pytest.raises(ValueError, match="is not a tempo"):
        analysis.parse_bpm_range("fast")
    assert analysis.key_distance("A minor", "A minor") == 0
    assert analysis.key_distance("C major", "A minor") == 1  # relative
    assert analysis.key_distance("E minor", "A minor") == 1  # a fifth
    assert analysis.key_distance("A major", "A minor") == 2  # parallel
    assert analysis.key_distance("F# major", "A minor") == 3 and analysis.key_distance(None, "A minor") == 3
    assert analysis.tempo_distance(121, 120) < analysis.tempo_distance(60.5, 120) < analysis.tempo_distance(100, 120)
    assert analysis.tempo_distance(None, 120) == math.inf


def _measures(bpm, key):
    return analysis.Measures(bpm, 0.5, key, 0.8, -3.0, 2000.0, 2.0)


def test_candidates_rank_by_key_then_tempo(cuedeck_home):
    request = GenerationRequest("x", candidates=4, duration=1, seed=1, bpm=120, key="Am").validated()
    assert request.key == "A minor"
    found = [_measures(121, "E minor"), _measures(119, "A minor"), None, _measures(100, "A minor")]
    with Library() as lib:
        cues = lib.add_batch(request, np.zeros((4, 1, 16000), np.float32), 16000, [1, 2, 3, 4], "job", "1.3.0",
                             measures=found)
    assert [c.seed for c in ranked(cues, request.bpm, request.key)] == [2, 4, 1, 3]
    assert (cues[0].target_bpm, cues[0].target_key) == (120, "A minor")
    assert [c.seed for c in ranked(cues, None, None)] == [1, 2, 3, 4]  # nothing wanted: batch order


@pytest.mark.parametrize("bad, words", [({"bpm": 20}, "bpm must be a number from 60 to 200"),
                                        ({"key": "Q minor"}, "is not a key")])
def test_a_wanted_tempo_or_key_that_cannot_be_is_refused(bad, words):
    with pytest.raises(BadInput, match=words):
        GenerationRequest("x", **bad).validated()


def test_the_library_filters_and_sorts_by_measures_and_measures_older_cues(cuedeck_home):
    request = GenerationRequest("beats", candidates=3, duration=6, seed=1).validated()
    audio = np.stack([beats(bpm, 6, seed=3)[:, :6 * RATE] for bpm in (90, 125, 160)])
    with Library() as lib:
        cues = lib.add_batch(request, audio, RATE, [1, 2, 3], "job", "1.3.0")  # as cues made before measuring
        assert [c.measures for c in cues] == [None] * 3 and lib.find(bpm=(80, 200)) == []
        broken = lib.add_batch(request, audio[:1], RATE, [4], "job2", "1.3.0")[0]
        broken.path.write_bytes(b"not audio")
        assert lib.measure_missing() == (3, 1)  # the unreadable one is left for `library check`
        assert lib.get(broken.id).measures is None
        slow, mid, fast = (lib.get(c.id) for c in cues)
        assert [round(c.measures.bpm) for c in (slow, mid, fast)] == [90, 125, 160]
        assert lib.find(bpm=(120, 130)) == [mid.id]
        assert lib.find(sort="bpm") == [slow.id, mid.id, fast.id, broken.id]  # unmeasured last
        assert lib.find(sort="bpm", descending=True)[:3] == [fast.id, mid.id, slow.id]
        assert lib.find(tone=slow.measures.tone) and lib.find(tone="neutral" if slow.measures.tone != "neutral"
                                                              else "dark") == []
        with pytest.raises(BadInput, match="is not a key"):
            lib.find(key="Z")
        with pytest.raises(BadInput, match="the tone is one of dark, neutral, bright"):
            lib.find(tone="shiny")
        with pytest.raises(BadInput, match="sort by one of newest"):
            lib.find(sort="colour")
        assert lib.get(mid.id).to_dict()["bpm"] == mid.measures.bpm


def test_the_measures_of_a_written_file_match_the_audio_it_holds(cuedeck_home, tmp_path):
    audio = beats(132, 6, "drums", seed=5)
    path = tmp_path / "beats.wav"
    soundfile.write(path, audio.T, RATE, subtype="FLOAT")
    (from_file,) = analysis.measure_files([path])
    assert from_file == analysis.measure(audio, RATE)
    assert analysis.measure_files_apart([path, tmp_path / "missing.wav"]) == [from_file, None]


def test_cli_searches_by_measures_and_measures_older_cues(cuedeck_home):
    request = GenerationRequest("beats", candidates=2, duration=6, seed=1).validated()
    audio = np.stack([beats(bpm, 6, seed=3)[:, :6 * RATE] for bpm in (95, 150)])
    with Library() as lib:
        slow, fast = lib.add_batch(request, audio, RATE, [1, 2], "job", "1.3.0")
    done = run_cli("library", "measure")
    assert done.returncode == 0 and done.stdout.strip() == "measured 2 cues", done.stderr
    found = run_cli("library", "search", "--bpm", "140-160", "--sort", "bpm")
    assert found.returncode == 0 and [int(line.split()[0]) for line in found.stdout.splitlines()] == [fast.id]
    assert "150bpm" in found.stdout
    bad = run_cli("library", "search", "--bpm", "fast")
    assert bad.returncode == 2 and "'fast' is not a tempo" in bad.stderr and len(bad.stderr.splitlines()) == 1
    bad = run_cli("library", "search", "--key", "H")
    assert bad.returncode == 2 and bad.stderr.strip() == ("cuedeck: 'H' is not a key: give one such as \"A minor\", "
                                                          "Am, \"F# major\" or Bb")
