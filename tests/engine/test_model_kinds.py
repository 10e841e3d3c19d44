"""Each kind of model CueDeck drives, as a tiny checkpoint loaded through audiocraft's own
loaders: stereo MusicGen (interleaved codebooks) and MAGNeT (on the CPU, torch attention);
stereo cues go through the player and the timeline export as stereo."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from audiocraft.models import MAGNeT, MusicGen
from audiocraft.models.encodec import InterleaveStereoCompressionModel
from audiocraft.modules import transformer

from conftest import ROOT, run_cli
from engine.worker import stand_ins, tiny_models
from engine.worker.generation import Generator
from engine.library import Library
from engine.player import Player, prepare
from engine.request import GenerationRequest


@pytest.fixture(scope="module")
def generator():
    return Generator()


def test_audiocraft_runs_on_the_xformers_stand_in_and_its_attention_asks_for_torchs():
    assert transformer.ops is stand_ins  # (xformers itself is no longer installed)
    with pytest.raises(RuntimeError, match="set_efficient_attention_backend\\('torch'\\)"):
        transformer.ops.memory_efficient_attention(None, None, None)


def test_a_worker_imports_no_diffusion_decoder_nor_audiocrafts_training_solvers():
    found = subprocess.run(
        [sys.executable, "-c", "import sys, engine.worker.generation, audiocraft.models as m; "
         "print(sorted(n for n in ('audiocraft.solvers', 'torchmetrics', 'laion_clap') if n in sys.modules)); "
         "m.MultiBandDiffusion.get_mbd_musicgen()"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr
    assert "MultiBandDiffusion is not available in CueDeck's worker" in found.stderr.splitlines()[-1]


def test_tiny_stereo_loads_through_musicgen_as_a_stereo_model(tmp_path):
    model = MusicGen.get_pretrained(str(tiny_models.build("tiny-stereo", tmp_path / "s")), device="cpu")
    assert isinstance(model.compression_model, InterleaveStereoCompressionModel)
    assert (model.audio_channels, model.lm.n_q, model.sample_rate) == (2, 8, 32000)


def test_tiny_magnet_loads_through_magnet_and_runs_on_the_cpu(tmp_path, generator):
    model = MAGNeT.get_pretrained(str(tiny_models.build("tiny-magnet", tmp_path / "m")), device="cpu")
    assert type(model.lm).__name__ == "MagnetLMModel" and not model.lm.causal
    batch = generator.generate(GenerationRequest("temple bells", model="tiny-magnet", candidates=2,
                                                 duration=3.0, seed=4))
    assert transformer._efficient_attention_backend == "torch"  # not xformers, which needs a GPU
    assert batch.audio.shape == (2, 1, 3 * 32000) and np.isfinite(batch.audio).all()
    alone = generator.generate(GenerationRequest("temple bells", model="tiny-magnet", candidates=1,
                                                 duration=3.0, seed=5))
    assert np.array_equal(alone.tokens[0], batch.tokens[1])  # a candidate's seed reproduces it


def test_stereo_candidates_keep_their_own_seed(generator):
    batch = generator.generate(GenerationRequest("wide pad", model="tiny-stereo", candidates=2, duration=1.0, seed=8))
    alone = generator.generate(GenerationRequest("wide pad", model="tiny-stereo", candidates=1, duration=1.0, seed=9))
    assert batch.audio.shape == (2, 2, 32000)
    assert np.array_equal(alone.tokens[0], batch.tokens[1])
    assert not np.allclose(batch.audio[0, 0], batch.audio[0, 1])  # two different channels


def test_a_stereo_cue_stays_stereo_through_player_timeline_and_export(tmp_path):
    done = run_cli("generate", "wide pad", "-n", "1", "-d", "2", "--model", "tiny-stereo", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    cue = json.loads(done.stdout)
    assert cue["channels"] == 2
    audio, rate = soundfile.read(cue["path"], dtype="float32", always_2d=True)
    assert audio.shape == (2 * 32000, 2)

    played = []
    player = Player(on_error=played.append)
    try:
        player.loop = True
        player.play(prepare(audio, rate), rate)
        deadline = time.monotonic() + 10
        while player.stream_format is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert player.stream_format == (32000, 2) and played == []  # a stereo stream on the device
    finally:
        player.close()

    for args in (("timeline", "new", "Wide"), ("timeline", "add", "Wide", str(cue["id"]), "--at", "1")):
        assert run_cli(*args).returncode == 0
    export = run_cli("export", "Wide", "--out", str(tmp_path))
    assert export.returncode == 0, export.stderr
    mix, mix_rate = soundfile.read(Path(export.stdout.strip()) / "Wide - Mix.wav", always_2d=True)
    assert mix.shape == (3 * 48000, 2) and mix_rate == 48000
    assert not np.allclose(mix[48000:, 0], mix[48000:, 1], atol=1e-3)  # left and right differ
    with Library() as lib:
        assert lib.get(cue["id"]).channels == 2
