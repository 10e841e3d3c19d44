"""Tiny random-weight models in audiocraft's release checkpoint format.

They load through exactly the code path real weights take (`MusicGen.get_pretrained(folder)`,
`AudioGen.get_pretrained(folder)`), so tests and first-time users exercise the real engine
without a download. Untrained: they produce noise. Built deterministically from a fixed seed.
"""

import os
import shutil
from pathlib import Path

import audiocraft
import torch
from audiocraft.models import builders
from omegaconf import OmegaConf

from .. import faults, resources, staging

# Per model: sample rate, SEANet ratios (their product is the hop: 50 frames a second, as
# in the released models), the longest window (released MusicGen 30 s, AudioGen and MAGNeT
# 10 s) and the variant: stereo interleaves two mono codebook sets as musicgen-stereo does;
# magnet is a non-causal masked LM with parallel codebooks.
SPECS = {
    "tiny-music": {"sample_rate": 32000, "ratios": [8, 5, 4, 4], "segment_duration": 30},
    "tiny-sfx": {"sample_rate": 16000, "ratios": [8, 5, 4, 2], "segment_duration": 10},
    "tiny-stereo": {"sample_rate": 32000, "ratios": [8, 5, 4, 4], "segment_duration": 30, "stereo": True},
    "tiny-magnet": {"sample_rate": 32000, "ratios": [8, 5, 4, 4], "segment_duration": 10, "magnet": True},
    "tiny-melody": {"sample_rate": 32000, "ratios": [8, 5, 4, 4], "segment_duration": 30, "melody": True},
}
N_Q = 4
CARD = 256
SEED = 1234


def lm_config(name: str) -> dict:
    """An `xp.cfg` with the keys audiocraft's builders read, at toy sizes."""
    spec = SPECS[name]
    stereo, magnet = spec.get("stereo", False), spec.get("magnet", False)
    n_q = N_Q * 2 if stereo else N_Q
    cfg = {
        "device": "cpu",
        "dtype": "float32",
        "lm_model": "transformer_lm_magnet" if magnet else "transformer_lm",
        "dataset": {"segment_duration": spec["segment_duration"]},
        "transformer_lm": {
            "n_q": n_q, "card": CARD, "dim": 32, "num_heads": 2, "num_layers": 2,
            "hidden_scale": 4, "dropout": 0.0, "activation": "gelu", "norm": "layer_norm",
            "norm_first": True, "bias_ff": False, "bias_attn": False, "bias_proj": False,
            "causal": not magnet, "custom": False, "memory_efficient": True,
            "attention_as_float32": False, "positional_embedding": "sin", "xpos": False,
            "weight_init": "gaussian", "depthwise_init": "current", "zero_bias_init": True,
            "cross_attention": True, "two_step_cfg": False,
        },
        "codebooks_pattern": {"modeling": "parallel" if magnet else "delay",
                              "delay": {"delays": [i // 2 for i in range(n_q)] if stereo else list(range(n_q))}},
        "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1.0,
                  "sum": [], "prepend": [], "cross": ["description"], "input_interpolate": []},
        "conditioners": {
            "description": {"model": "lut", "lut": {"n_bins": 1024, "dim": 16, "tokenizer": "noop"}},
        },
    }
    if stereo:
        cfg["interleave_stereo_codebooks"] = {"use": True, "per_timestep": False}
    if spec.get("melody"):  # chroma of the melody stems, prepended as musicgen-melody does
        cfg["conditioners"]["self_wav"] = {"model": "chroma_stem", "chroma_stem": {
            "sample_rate": spec["sample_rate"], "n_chroma": 12, "radix2_exp": 14, "argmax": True,
            "match_len_on_eval": False, "eval_wavs": None, "n_eval_wavs": 0, "cache_path": None}}
        cfg["fuser"]["prepend"] = ["self_wav"]
    if magnet:
        cfg["transformer_lm"].update({"subcodes_context": 5, "compression_model_framerate": 50,
                                      "segment_duration": spec["segment_duration"], "span_len": 3})
        cfg["masking"] = {"span_len": 3}
    return cfg


def compression_config(name: str) -> dict:
    spec = SPECS[name]
    return {
        "device": "cpu",
        "compression_model": "encodec",
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": spec["sample_rate"],
                    "channels": 1, "causal": False, "renormalize": False},
        "seanet": {"dimension": 32, "channels": 1, "causal": False, "n_filters": 4,
                   "n_residual_layers": 1, "ratios": spec["ratios"], "activation": "ELU",
                   "activation_params": {"alpha": 1.0}, "norm": "none", "kernel_size": 7,
                   "last_kernel_size": 7, "residual_kernel_size": 3, "dilation_base": 2,
                   "pad_mode": "constant", "true_skip": True, "compress": 2, "lstm": 0,
                   "encoder": {}, "decoder": {}},
        # kmeans_init off: the codebooks keep their random init instead of waiting for data.
        "rvq": {"n_q": N_Q, "q_dropout": False, "bins": CARD, "decay": 0.99,
                "kmeans_init": False, "kmeans_iters": 1, "threshold_ema_dead_code": 2},
    }


def _package(model: torch.nn.Module, cfg: dict) -> dict:
    return {"best_state": model.state_dict(), "xp.cfg": OmegaConf.to_yaml(OmegaConf.create(cfg)),
            "version": audiocraft.__version__, "exported": True}


def build(name: str, folder: Path) -> Path:
    """Write `state_dict.bin` and `compression_state_dict.bin` for `name` into `folder`.

    The folder appears whole or not at all (built beside it, then renamed into place).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        lm_cfg, comp_cfg = lm_config(name), compression_config(name)
        lm = builders.get_lm_model(OmegaConf.create(lm_cfg))
        compression = builders.get_compression_model(OmegaConf.create(comp_cfg))
    staging.sweep(folder.parent)  # builds that a kill interrupted
    resources.require_space(folder.parent, 20_000_000, f"building the test model {name}")
    part = staging.part_path(folder)
    part.mkdir()
    try:
        torch.save(_package(lm, lm_cfg), part / "state_dict.bin")
        torch.save(_package(compression, comp_cfg), part / "compression_state_dict.bin")
        faults.point("tiny-model.built")
        try:
            os.replace(part, folder)
        except OSError:
            if not folder.is_dir():  # another process won the race: theirs is as good
                raise
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return folder


def build_separator(hub_cache: Path, commit: str = "0" * 40, size: str = "tiny") -> None:
    """A random-weight HTDemucs in the hub cache layout demucs reads (`adefossez/HTDemucs`:
    `htdemucs.yaml` plus one safetensors file with the class and arguments in its metadata),
    so melody checkpoints and splits run offline in tests: tiny, or of the released model's
    size (`size="htdemucs"`: its architecture, for benchmarks). Never written outside a test's
    or a benchmark's cache: the real separator is installed there."""
    import json
    from fractions import Fraction

    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    from ..registry import SEPARATOR, SEPARATOR_BAG, STEM_ROLES, hub_repo_dir

    kwargs = {"sources": list(STEM_ROLES), "audio_channels": 2, "samplerate": 44100}
    if size == "tiny":
        kwargs.update(channels=8, depth=3, t_layers=1, t_heads=2, nfft=2048, dconv_comp=4, segment=Fraction(4, 1))
    else:  # the released htdemucs: demucs's defaults and its 7.8 s segments
        kwargs.update(segment=Fraction(39, 5))
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        model = HTDemucs(**kwargs)
    segment = kwargs["segment"]
    encoded = {**kwargs, "segment": {"_type": "fraction", "numerator": segment.numerator,
                                     "denominator": segment.denominator}}
    root = hub_repo_dir(SEPARATOR, Path(hub_cache))
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / SEPARATOR_BAG).write_text("models: ['tiny0000']\n")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(snapshot / "tiny0000.safetensors"), metadata={
        "klass": "demucs.htdemucs.HTDemucs", "args": "[]", "kwargs": json.dumps(encoded)})
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(commit)
