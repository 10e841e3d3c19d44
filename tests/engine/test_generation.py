"""Generation through audiocraft's real classes and loaders, on the tiny checkpoints."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from audiocraft.models import AudioGen, MusicGen

from engine import registry
from engine.worker import tiny_models
from engine.errors import BadInput, Cancelled, GenerationFailed
from engine.worker.generation import GENERATING, Generator, window_steps
from engine.request import GenerationRequest


@pytest.fixture(scope="module")
def generator():
    return Generator()


@pytest.mark.parametrize("name, cls, rate", [("tiny-music", MusicGen, 32000),
                                             ("tiny-sfx", AudioGen, 16000)])
def test_tiny_checkpoint_is_in_release_format_and_loads_through_audiocraft(tmp_path, name, cls, rate):
    folder = tiny_models.build(name, tmp_path / name)
    for filename in ("state_dict.bin", "compression_state_dict.bin"):
        package = torch.load(folder / filename, weights_only=True)
        assert set(package) == {"best_state", "xp.cfg", "version", "exported"}
        assert isinstance(package["xp.cfg"], str)
    model = cls.get_pretrained(str(folder), device="cpu")
    assert (model.sample_rate, model.audio_channels, model.frame_rate) == (rate, 1, 50)
    assert list(tmp_path.iterdir()) == [folder]  # no staging folder left behind


def test_tiny_checkpoints_are_the_same_on_every_build(tmp_path):
    a = torch.load(tiny_models.build("tiny-music", tmp_path / "a") / "state_dict.bin")
    b = torch.load(tiny_models.build("tiny-music", tmp_path / "b") / "state_dict.bin")
    assert all(torch.equal(a["best_state"][k], b["best_state"][k]) for k in a["best_state"])


@pytest.mark.parametrize("model, rate", [("tiny-music", 32000), ("tiny-sfx", 16000)])
def test_a_request_is_one_batch_with_a_seed_per_candidate(generator, model, rate):
    batch = generator.generate(GenerationRequest("rain on tin", model=model, candidates=3,
                                                 duration=1.0, seed=11))
    assert batch.audio.shape == (3, 1, rate)
    assert batch.audio.dtype == np.float32
    assert batch.sample_rate == rate
    assert batch.seeds == [11, 12, 13]
    assert np.isfinite(batch.audio).all() and np.abs(batch.audio).max() > 0
    assert not np.array_equal(batch.audio[0], batch.audio[1])


def test_same_request_same_seed_is_bit_identical(generator):
    request = GenerationRequest("warm pad", candidates=2, duration=1.0, seed=5)
    first, second = generator.generate(request), generator.generate(request)
    assert np.array_equal(first.audio, second.audio)
    other = generator.generate(GenerationRequest("warm pad", candidates=2, duration=1.0, seed=6))
    assert not np.array_equal(first.audio, other.audio)


def test_a_candidate_seed_gives_the_same_tokens_alone_or_in_a_batch(generator):
    batch = generator.generate(GenerationRequest("warm pad", candidates=4, duration=1.0, seed=20))
    alone = generator.generate(GenerationRequest("warm pad", candidates=1, duration=1.0, seed=22))
    assert np.array_equal(alone.tokens[0], batch.tokens[2])
    # EnCodec decodes a batch of one with other float rounding: equal to a few ulp.
    np.testing.assert_allclose(alone.audio[0], batch.audio[2], atol=1e-5)


@pytest.mark.parametrize("model, duration", [("tiny-sfx", 11.0), ("tiny-magnet", 1.0)])
def test_a_negative_prompt_steers_audiocrafts_own_paths_too(generator, model, duration):
    """Past one window (AudioGen) and MAGNeT run audiocraft's generate, guided away from the
    negative text for that job only."""
    request = GenerationRequest("rain on tin", model=model, candidates=2, duration=duration, seed=3)
    plain, steered = generator.generate(request), generator.generate(replace(request, negative="thunder"))
    assert not np.array_equal(plain.tokens, steered.tokens)
    assert np.array_equal(generator.generate(request).tokens, plain.tokens)


def test_progress_is_the_fraction_of_the_whole_job_and_names_the_stage(generator):
    seen = []
    generator.generate(GenerationRequest("x", candidates=1, duration=1.0, seed=1),
                       on_progress=lambda fraction, stage: seen.append((fraction, stage)))
    fractions = [f for f, _ in seen]
    assert len(seen) >= 50  # a report per step: 50 frames a second plus the codebook delays
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] == GENERATING
    assert {stage for _, stage in seen} == {"generating", "decoding"} and seen[-1][1] == "decoding"


def test_progress_past_the_window_counts_every_window_and_never_passes_100_percent(generator):
    """tiny-sfx generates 10 s windows 2 s apart: a 14 s cue is three windows, and
    audiocraft's own counts run to several times the window's."""
    seen = []
    generator.generate(GenerationRequest("rain", model="tiny-sfx", candidates=1, duration=14.0, seed=1),
                       on_progress=lambda fraction, stage: seen.append((fraction, stage)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] <= 1.0
    windows = [stage for _, stage in seen if stage.startswith("window")]
    assert window_steps(14.0, 10.0, 2.0, 50) == [(0, 500), (100, 100), (200, 100)]
    assert windows[0] == "window 1 of 3" and windows[-1] == "window 3 of 3"
    assert sorted(set(windows)) == [f"window {n} of 3" for n in (1, 2, 3)]
    assert seen[-1] == (GENERATING, "decoding")
    # windows after the first generate only their 2 s stride: 500, 100 and 100 steps
    second = next(f for f, stage in seen if stage == "window 2 of 3")
    assert second == pytest.approx(GENERATING * 500 / 700, abs=0.01)


def test_cancel_stops_at_the_next_step(generator):
    steps = []
    with pytest.raises(Cancelled):
        generator.generate(GenerationRequest("x", candidates=2, duration=4.0, seed=1),
                           on_progress=lambda fraction, stage: steps.append(len(steps) + 1),
                           should_cancel=lambda: len(steps) >= 3)
    assert steps == [1, 2, 3]


def _use_tiny_copy(cuedeck_home, name="tiny-music"):
    return tiny_models.build(name, cuedeck_home / "models" / name)


def test_checkpoint_needing_pickled_code_is_refused(cuedeck_home):
    folder = _use_tiny_copy(cuedeck_home)
    package = torch.load(folder / "state_dict.bin")
    package["extra"] = pickle.loads(pickle.dumps(Exception("arbitrary object")))
    torch.save(package, folder / "state_dict.bin")
    with pytest.raises(BadInput, match="arbitrary pickled code"):
        Generator().generate(GenerationRequest("x", candidates=1, duration=1.0, seed=1))


def test_corrupted_checkpoint_gives_a_clear_error(cuedeck_home):
    folder = _use_tiny_copy(cuedeck_home)
    (folder / "compression_state_dict.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(GenerationFailed, match="incomplete or corrupted"):
        Generator().generate(GenerationRequest("x", candidates=1, duration=1.0, seed=1))


@pytest.mark.parametrize("zip_format", [True, False], ids=["mapped", "older format, read"])
def test_a_loaded_model_holds_exactly_its_files_weights(cuedeck_home, zip_format):
    # loading draws no random weights and maps zip-format files: every weight still comes from the file
    folder = _use_tiny_copy(cuedeck_home)
    files = {}
    for name in ("state_dict.bin", "compression_state_dict.bin"):
        files[name] = torch.load(folder / name)
        torch.save(files[name], folder / name, _use_new_zipfile_serialization=zip_format)
    random = torch.get_rng_state()
    model = Generator().load(registry.get("tiny-music"), "cpu")
    assert torch.equal(torch.get_rng_state(), random)  # nothing was drawn
    for name, module in (("state_dict.bin", model.lm), ("compression_state_dict.bin", model.compression_model)):
        saved, loaded = files[name]["best_state"], module.state_dict()
        assert set(saved) == set(loaded)
        assert all(torch.equal(saved[key], loaded[key]) for key in saved), name
    assert torch.nn.init.normal_(torch.zeros(64)).std() > 0.5  # torch's initialisers work again
    assert torch.nn.MultiheadAttention(8, 2).in_proj_weight.std() > 0.1
    assert not torch.utils.serialization.config.load.mmap


def test_incomplete_tiny_folder_is_rebuilt(cuedeck_home):
    folder = _use_tiny_copy(cuedeck_home)
    (folder / "state_dict.bin").unlink()
    batch = Generator().generate(GenerationRequest("x", candidates=1, duration=0.5, seed=1))
    assert batch.audio.shape == (1, 1, 16000)
    assert (folder / "state_dict.bin").is_file()
