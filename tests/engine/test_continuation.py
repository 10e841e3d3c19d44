"""More like this (continuations from a cue's end), cues longer than a window (windowed
extension), the conditioning audio checks, device choice and the memory estimate."""

import json
import weakref

import numpy as np
import pytest
import soundfile

from conftest import run_cli
from engine import registry
from engine import conditioning
from engine.worker import generation
from engine.errors import BadInput
from engine.worker.generation import Generator
from engine.library import Library
from engine.request import GenerationRequest


def generate(*args) -> list[dict]:
    done = run_cli("generate", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_continuations_record_their_parent_and_can_run_past_the_window():
    (parent,) = generate("creaking ship hull", "-n", "1", "-d", "3", "--model", "tiny-sfx", "--seed", "2")
    # two continuations of the parent's last second, 14 s long: past tiny-sfx's 10 s window
    children = generate("creaking ship hull", "-n", "2", "-d", "14", "--model", "tiny-sfx", "--seed", "9",
                        "--continue", str(parent["id"]), "--prompt-seconds", "1")
    with Library() as lib:
        for child in children:
            cue = lib.get(child["id"])
            assert cue.parent_id == parent["id"] and cue.duration == 14.0
            assert cue.conditioning_source == f"cue {parent['id']}, last 1.00 s"
            samples, rate, digest = conditioning.load(lib.get(parent["id"]).path, 1.0)
            assert cue.conditioning_sha256 == digest and samples.shape == (1, rate)
            assert soundfile.info(cue.path).frames == 14 * 16000
    assert children[0]["sha256"] != children[1]["sha256"]  # each its own seed


def test_continuing_a_cue_whose_file_is_gone_or_silent_is_refused(tmp_path):
    with Library() as lib:
        request = GenerationRequest("low hum", model="tiny-sfx", candidates=1, duration=2, seed=3).validated()
        parent = lib.add_batch(request, np.zeros((1, 1, 32000), np.float32), 16000, [3], "job", "1.3.0")[0]
    silent = run_cli("generate", "low hum", "-n", "1", "-d", "3", "--model", "tiny-sfx", "--continue", str(parent.id))
    assert silent.returncode == 2 and "is silent" in silent.stderr and "Traceback" not in silent.stderr, silent.stderr
    parent.path.unlink()
    gone = run_cli("generate", "low hum", "-n", "1", "-d", "3", "--model", "tiny-sfx", "--continue", str(parent.id))
    assert gone.returncode == 2 and "has lost its file" in gone.stderr, gone.stderr
    missing = run_cli("generate", "low hum", "-n", "1", "-d", "3", "--model", "tiny-sfx", "--continue", "999")
    assert missing.returncode == 2 and "cue 999 is no longer in the library" in missing.stderr, missing.stderr
    with Library() as lib:
        assert len(lib.search()) == 1  # nothing was added


@pytest.mark.parametrize("fmt, rate, channels", [("WAV", 44100, 2), ("FLAC", 22050, 1), ("OGG", 48000, 2),
                                                 ("MP3", 44100, 1)])
def test_conditioning_audio_in_any_format_rate_and_channel_count(tmp_path, fmt, rate, channels):
    t = np.arange(rate * 2) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 330 * t)] * channels, axis=1).astype(np.float32)
    path = tmp_path / f"melody.{fmt.lower()}"
    soundfile.write(path, audio, rate, format=fmt)
    samples, got_rate, digest = conditioning.load(path)
    assert got_rate == rate and samples.shape[0] == channels and abs(samples.shape[1] - 2 * rate) < rate // 10
    assert len(digest) == 64
    last, _, _ = conditioning.load(path, last_seconds=0.5)
    assert abs(last.shape[1] - rate // 2) < rate // 10


def test_bad_conditioning_audio_gives_one_clear_line(tmp_path, monkeypatch):
    (tmp_path / "text.wav").write_text("not audio at all")
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 16000)
    soundfile.write(tmp_path / "silent.wav", np.zeros((16000, 1), np.float32), 16000)
    soundfile.write(tmp_path / "nan.wav", np.full((16000, 1), np.nan, np.float32), 16000, subtype="FLOAT")
    cases = [("text.wav", "not audio CueDeck can read"), ("empty.wav", "is empty"),
             ("silent.wav", "is silent"), ("nan.wav", "invalid samples"), ("nope.wav", "does not exist")]
    for name, words in cases:
        with pytest.raises(BadInput, match=words):
            conditioning.load(tmp_path / name)
    monkeypatch.setattr(conditioning, "MAX_SECONDS", 0.5)
    soundfile.write(tmp_path / "long.wav", np.ones((16000, 1), np.float32) * 0.1, 16000)
    with pytest.raises(BadInput, match="minutes long"):
        conditioning.load(tmp_path / "long.wav")


def test_device_choice_and_a_memory_estimate_before_loading(monkeypatch):
    assert generation.pick_device("auto") in ("cpu", "cuda", "mps")
    assert generation.pick_device("cpu") == "cpu"
    if not generation.torch.cuda.is_available():
        with pytest.raises(BadInput, match="no CUDA device"):
            generation.pick_device("cuda")
    generator = Generator()
    monkeypatch.setattr(generation, "memory_available", lambda device: 10_000_000)
    with pytest.raises(BadInput, match=r"tiny-music needs about 0\.\d GB of memory on cpu and 0\.0 GB is free"):
        generator.load(registry.get("tiny-music"), "cpu")
    assert generator._model is None  # nothing was loaded


def test_the_memory_a_job_needs_counts_its_candidates_and_duration(monkeypatch):
    generator = Generator()
    model = generator.load(registry.get("tiny-music"), "cpu")
    needed = {(n, d): generation.job_memory(model, GenerationRequest("x", candidates=n, duration=d))
              for n in (1, 8) for d in (1.0, 30.0, 120.0)}
    assert needed[(1, 1.0)] < needed[(8, 1.0)] < needed[(8, 30.0)] < needed[(8, 120.0)]
    assert needed[(8, 30.0)] > 7 * needed[(1, 30.0)]  # the attention cache and audio scale with the batch
    free = (needed[(1, 1.0)] + needed[(8, 30.0)]) // 2
    monkeypatch.setattr(generation, "memory_available", lambda device: free)
    with pytest.raises(BadInput, match="8 candidates of 30 s need about .* fewer candidates or a shorter"):
        generator.generate(GenerationRequest("x", candidates=8, duration=30.0, seed=1))
    assert generator.generate(GenerationRequest("x", candidates=1, duration=1.0, seed=1)).audio.shape[0] == 1


def test_the_model_stays_warm_and_is_freed_when_the_model_changes():
    generator = Generator()
    music = generator.load(registry.get("tiny-music"), "cpu")
    assert generator.load(registry.get("tiny-music"), "auto" if generation.pick_device() == "cpu" else "cpu") is music
    gone = weakref.ref(music)
    del music
    generator.load(registry.get("tiny-sfx"), "cpu")
    assert gone() is None  # the old model's memory was released


def test_a_request_for_a_continuation_validates_its_prompt_length():
    with pytest.raises(BadInput, match="prompt seconds"):
        GenerationRequest("x", duration=3.0, parent_id=1, prompt_seconds=3.0).validated()
