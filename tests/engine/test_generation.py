"""Generation through audiocraft's real classes and loaders, on the tiny checkpoints."""

import pickle

import numpy as np
import pytest
import torch
from audiocraft.models import AudioGen, MusicGen

from engine import tiny_models
from engine.errors import BadInput, Cancelled, GenerationFailed
from engine.generation import Generator
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


def test_progress_reports_every_step_up_to_the_total(generator):
    steps = []
    generator.generate(GenerationRequest("x", candidates=1, duration=1.0, seed=1),
                       on_progress=lambda step, total: steps.append((step, total)))
    total = steps[-1][1]
    assert [s for s, _ in steps] == list(range(1, total + 1))
    assert total >= 50  # 50 frames a second plus the codebook delays


def test_cancel_stops_at_the_next_step(generator):
    steps = []
    with pytest.raises(Cancelled):
        generator.generate(GenerationRequest("x", candidates=2, duration=4.0, seed=1),
                           on_progress=lambda step, total: steps.append(step),
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


def test_incomplete_tiny_folder_is_rebuilt(cuedeck_home):
    folder = _use_tiny_copy(cuedeck_home)
    (folder / "state_dict.bin").unlink()
    batch = Generator().generate(GenerationRequest("x", candidates=1, duration=0.5, seed=1))
    assert batch.audio.shape == (1, 1, 16000)
    assert (folder / "state_dict.bin").is_file()
