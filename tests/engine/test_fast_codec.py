"""CueDeck's EnCodec decoder against audiocraft's own EncodecModel.decode, on codecs built by
audiocraft's builders: the audio of a release's layout (weight norm, LSTM, odd strides), of
the tiny test models and of a stereo model within float rounding; other codecs decode through
audiocraft; a
stream of windows joins up to audiocraft's decode of the whole."""

import gc
import weakref

import pytest
import torch
from audiocraft.models import builders
from omegaconf import OmegaConf

from engine import registry
from engine.worker import fast_codec, tiny_models
from engine.worker.generation import Generator
from engine.worker.streaming import StreamingDecoder


def codec(sample_rate=32000, ratios=(8, 5, 4, 4), **seanet):
    """An EnCodec laid out as audiocraft's releases (MusicGen's at 32 kHz, AudioGen's at
    16 kHz), narrower, with random weights."""
    torch.manual_seed(0)
    cfg = {"device": "cpu", "compression_model": "encodec",
           "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": sample_rate, "channels": 1,
                       "causal": False, "renormalize": False},
           "seanet": {"dimension": 32, "channels": 1, "causal": False, "n_filters": 8, "n_residual_layers": 1,
                      "ratios": list(ratios), "activation": "ELU", "activation_params": {"alpha": 1.0},
                      "norm": "weight_norm", "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3,
                      "dilation_base": 2, "pad_mode": "constant", "true_skip": True, "compress": 2, "lstm": 2,
                      "encoder": {}, "decoder": {}, **seanet},
           "rvq": {"n_q": 4, "q_dropout": False, "bins": 2048, "decay": 0.99, "kmeans_init": False,
                   "kmeans_iters": 1, "threshold_ema_dead_code": 2}}
    return builders.get_compression_model(OmegaConf.create(cfg)).eval()


def random_codes(model, frames, batch=3, seed=1):
    return torch.randint(0, model.cardinality, (batch, model.num_codebooks, frames),
                         generator=torch.Generator().manual_seed(seed))


def relative_error(approx, exact):
    return float((approx - exact).pow(2).mean().sqrt() / exact.pow(2).mean().sqrt())


@pytest.mark.parametrize("model", [codec(), codec(16000, (8, 5, 4, 2)),
                                   builders.get_compression_model(OmegaConf.create(
                                       tiny_models.compression_config("tiny-music")))],
                         ids=["musicgen-layout", "audiogen-layout", "tiny-music"])
def test_decodes_audiocrafts_audio_within_float_rounding(model):
    assert fast_codec.supports(model)
    decode = fast_codec.decoder_for(model)
    assert isinstance(decode.__self__, fast_codec.FastCodecDecoder)
    for frames in (1, 3, 29, 70):
        codes = random_codes(model, frames)
        with torch.inference_mode():
            exact = model.decode(codes, None)
        audio = decode(codes)
        assert audio.shape == exact.shape  # every sample, in the same place
        assert relative_error(audio, exact) < 1e-5  # (float rounding: about 1e-6)


@pytest.mark.parametrize("model", [codec(pad_mode="reflect"), codec(causal=True)], ids=["reflect", "causal"])
def test_other_codecs_decode_through_audiocraft(model):
    assert not fast_codec.supports(model)
    codes = random_codes(model, 20)
    with torch.inference_mode():
        assert torch.equal(fast_codec.decoder_for(model)(codes), model.decode(codes, None))


def test_a_stereo_models_codec_decodes_each_channel_on_the_mono_codec():
    model = Generator().load(registry.get("tiny-stereo"), "cpu").compression_model
    assert fast_codec.supports(model.model)
    codes = random_codes(model, 20)
    with torch.inference_mode():
        exact = model.decode(codes, None)
    audio = fast_codec.decoder_for(model)(codes)
    assert audio.shape == exact.shape and exact.shape[1] == 2
    assert relative_error(audio, exact) < 1e-5
    assert relative_error(audio[:, 0], exact[:, 0]) < 1e-5  # left is left


def test_a_codec_no_longer_used_is_freed_with_its_decoder():
    model = codec()
    fast_codec.decoder_for(model)(random_codes(model, 2))
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None  # a worker that loads another model frees this one whole


def test_streamed_windows_join_up_to_audiocrafts_decode_of_the_whole():
    model, frames = codec(), 180
    codes = random_codes(model, frames, batch=2)
    pieces = []
    stream = StreamingDecoder(model, frames, lambda audio, start: pieces.append(audio))
    for ready in range(1, frames + 1):
        stream.frames_ready(lambda: codes, ready)
    with torch.inference_mode():
        whole = model.decode(codes, None)
    assert len(pieces) >= 3 and stream.audio().shape == whole.shape
    assert relative_error(stream.audio(), whole) < 1e-4  # −80 dB; the benchmark's release layout: −115 dB
