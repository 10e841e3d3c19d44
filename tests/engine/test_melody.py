"""Melody conditioning through a tiny melody checkpoint (chroma of demucs stems, as
musicgen-melody does), with a tiny random-weight separator in the test's hub cache."""

import json

import numpy as np
import pytest
import soundfile
from audiocraft.models import MusicGen
from audiocraft.modules.conditioners import ChromaStemConditioner

from conftest import run_cli, use_hf_home
from engine import registry
from engine import conditioning
from engine.worker import tiny_models
from engine.library import Library


def melody_file(path, rate=44100, channels=2, seconds=3.0):
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 2 * t)) / 2
    soundfile.write(path, np.stack([tone] * channels, axis=1), rate)
    return path


def test_tiny_melody_loads_through_musicgen_with_a_chroma_stem_conditioner(separator, tmp_path):
    assert registry.get("tiny-melody").is_present()
    model = MusicGen.get_pretrained(str(tiny_models.build("tiny-melody", tmp_path / "m")), device="cpu")
    assert isinstance(model.lm.condition_provider.conditioners["self_wav"], ChromaStemConditioner)


def test_a_melody_file_or_cue_conditions_the_candidates_and_is_recorded(separator, tmp_path):
    path = melody_file(tmp_path / "whistle.mp3")
    done = run_cli("generate", "whistled tune", "-n", "2", "-d", "2", "--model", "tiny-melody",
                   "--melody", str(path), "--seed", "5", "--json")
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in done.stdout.splitlines()]
    _, _, digest = conditioning.load(path)
    with Library() as lib:
        for cue in lib.get_many(ids):
            assert (cue.conditioning_sha256, cue.conditioning_source) == (digest, "melody: whistle.mp3")
    again = run_cli("generate", "whistled tune", "-n", "1", "-d", "2", "--model", "tiny-melody",
                    "--melody", f"cue:{ids[0]}", "--json")
    assert again.returncode == 0, again.stderr
    with Library() as lib:
        assert lib.get(json.loads(again.stdout)["id"]).conditioning_source == f"melody: cue {ids[0]}"


def test_bad_melodies_are_refused_in_one_line(separator, tmp_path):
    silent = tmp_path / "silent.wav"
    soundfile.write(silent, np.zeros((16000, 1)), 16000)
    cases = [(["--model", "tiny-music", "--melody", str(melody_file(tmp_path / "m.wav"))], "does not take a melody"),
             (["--model", "tiny-melody", "--melody", str(silent)], "is silent"),
             (["--model", "tiny-melody", "--melody", str(tmp_path / "gone.flac")], "does not exist"),
             (["--model", "tiny-melody", "--melody", "cue:12345"], "not a cue in the library")]
    for args, words in cases:
        done = run_cli("generate", "tune", "-n", "1", "-d", "1", *args)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
    with Library() as lib:
        assert lib.search() == []


def test_melody_models_need_the_separator(tmp_path, monkeypatch):
    use_hf_home(monkeypatch, tmp_path / "empty")
    assert not registry.get("tiny-melody").is_present()
    done = run_cli("generate", "tune", "-n", "1", "-d", "1", "--model", "tiny-melody")
    assert done.returncode == 2 and "demucs stem separator" in done.stderr
