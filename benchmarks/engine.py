"""Engine speed (issues 6 and 13): audiocraft's own generate against CueDeck's decoder in each
precision, on a released model's real architecture with random weights (the compute is that
of the real weights), same request, in one run. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/engine.py [--architecture musicgen-small|musicgen-medium|audiogen-medium]
                                          [--candidates 4] [--duration 8] [--dtype fp32 bf16 int8] [--json]

The architectures: a transformer LM of dim 1024, 24 layers, 16 heads (the medium ones: 1536,
48, 24), 4 codebooks of 2048 with the delay pattern, cross-attention to the text; EnCodec's
SEANet as audiocraft configures it, at 32 kHz (MusicGen) or 16 kHz (AudioGen, 50 frames a
second). MAGNeT is not here: it runs on audiocraft's own generate in CueDeck too. The text encoder is a lookup table of T5-base's width (768) instead of T5 itself, whose
weights cannot be downloaded here; it runs once per job in both engines. Each engine runs
in its own process (so each peak memory is its own), from the same seeded weights, with the
same per-candidate seeds: the benchmark also says whether their tokens are identical.
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PRECISIONS = ("fp32", "bf16", "int8")


# Each released model's transformer (audiocraft's model cards; AudioGen's is MusicGen's
# medium) and its EnCodec's sample rate and strides; the rest is the same.
SMALL, MEDIUM = {"dim": 1024, "num_heads": 16, "num_layers": 24}, {"dim": 1536, "num_heads": 24, "num_layers": 48}
ARCHITECTURES = {"musicgen-small": (SMALL, 32000, [8, 5, 4, 4]),
                 "musicgen-medium": (MEDIUM, 32000, [8, 5, 4, 4]),
                 "audiogen-medium": (MEDIUM, 16000, [8, 5, 4, 2])}


def lm_config(device: str, architecture: str = "musicgen-small") -> dict:
    config = {
        "device": device, "dtype": "float32", "lm_model": "transformer_lm",
        "dataset": {"segment_duration": 30},
        "transformer_lm": {
            "n_q": 4, "card": 2048, "dim": 1024, "num_heads": 16, "num_layers": 24, "hidden_scale": 4,
            "dropout": 0.0, "activation": "gelu", "norm": "layer_norm", "norm_first": True,
            "bias_ff": False, "bias_attn": False, "bias_proj": False, "causal": True, "custom": False,
            "memory_efficient": True, "attention_as_float32": False, "positional_embedding": "sin",
            "xpos": False, "weight_init": "gaussian", "depthwise_init": "current", "zero_bias_init": True,
            "cross_attention": True, "two_step_cfg": False, "past_context": None, "layer_scale": None,
        },
        "codebooks_pattern": {"modeling": "delay", "delay": {"delays": [0, 1, 2, 3]}},
        "classifier_free_guidance": {"training_dropout": 0.2, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {"cross_attention_pos_emb": False, "cross_attention_pos_emb_scale": 1.0,
                  "sum": [], "prepend": [], "cross": ["description"], "input_interpolate": []},
        "conditioners": {"description": {"model": "lut", "lut": {"n_bins": 4096, "dim": 768, "tokenizer": "noop"}}},
    }
    config["transformer_lm"].update(ARCHITECTURES[architecture][0])
    return config


def compression_config(device: str, architecture: str = "musicgen-small") -> dict:
    _, sample_rate, ratios = ARCHITECTURES[architecture]
    return {
        "device": device, "compression_model": "encodec",
        "encodec": {"autoencoder": "seanet", "quantizer": "rvq", "sample_rate": sample_rate, "channels": 1,
                    "causal": False, "renormalize": False},
        "seanet": {"dimension": 128, "channels": 1, "causal": False, "n_filters": 64, "n_residual_layers": 1,
                   "ratios": ratios, "activation": "ELU", "activation_params": {"alpha": 1.0},
                   "norm": "weight_norm", "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3,
                   "dilation_base": 2, "pad_mode": "constant", "true_skip": True, "compress": 2, "lstm": 2,
                   "encoder": {}, "decoder": {}},
        "rvq": {"n_q": 4, "q_dropout": False, "bins": 2048, "decay": 0.99, "kmeans_init": False,
                "kmeans_iters": 1, "threshold_ema_dead_code": 2},
    }


def build(device: str, architecture: str = "musicgen-small"):
    import torch

    import engine.worker  # noqa: F401 (its stand-ins, before audiocraft)
    from audiocraft.models import AudioGen, MusicGen, builders
    from omegaconf import OmegaConf

    torch.manual_seed(0)
    lm = builders.get_lm_model(OmegaConf.create(lm_config(device, architecture))).eval()
    compression = builders.get_compression_model(OmegaConf.create(compression_config(device, architecture))).eval()
    lm.cfg = OmegaConf.create(lm_config(device, architecture))
    if architecture.startswith("audiogen"):
        return AudioGen(f"bench-{architecture}", compression, lm, max_duration=10)
    return MusicGen(f"bench-{architecture}", compression, lm, max_duration=30)


PROMPTS = ["tense low strings, slow pulse, distant thunder", "warm analog pad, slow swell",
           "rain on a tin roof, close and heavy", "bright marimba ostinato", "dark cinematic drone",
           "glassy synth arpeggio", "brushed jazz drums", "lonely solo cello"]


def run_one(engine: str, candidates: int, duration: float, dtype: str, device: str, architecture: str) -> dict:
    """One engine, one request, in this process; returns its figures."""
    import torch

    from engine.worker.generation import _per_candidate_sampling

    model = build(device, architecture)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(candidates)]
    seeds = [1000 + i for i in range(candidates)]
    first_audio, prepare = None, 0.0
    if engine == "cuedeck":  # once per loaded model, kept warm between jobs: not part of a job
        from engine.resources import give_back_memory
        from engine.worker.fast_lm import FastDecoder

        began = time.perf_counter()
        decoder = FastDecoder(model.lm, dtype, release=True)  # as the worker builds it
        give_back_memory()  # and then hands back the weights it replaced
        prepare = time.perf_counter() - began
    started = time.perf_counter()
    with torch.inference_mode(), _per_candidate_sampling(seeds):
        if engine == "reference":
            model.set_generation_params(use_sampling=True, top_k=250, cfg_coef=3.0, duration=duration)
            audio, tokens = model.generate(prompts, return_tokens=True)
        else:
            from engine.worker.streaming import StreamingDecoder

            def heard(piece, start_seconds):
                nonlocal first_audio
                if first_audio is None:
                    first_audio = time.perf_counter() - started

            frames = int(duration * model.frame_rate)
            stream = StreamingDecoder(model.compression_model, frames, heard)
            tokens = decoder.generate(prompts, frames, top_k=250, cfg_coef=3.0, on_frames=stream.frames_ready)
            audio = stream.audio()  # the joined windows are the cues: no second decode
    elapsed = time.perf_counter() - started
    if device == "cuda":  # the job's, before the measures below build more
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    join_error = None
    if engine == "cuedeck":  # not timed: how far the joined windows are from one decode
        with torch.inference_mode():
            whole = model.compression_model.decode(tokens, None)
        join_error = 20 * math.log10(float((audio - whole).pow(2).mean().sqrt() / whole.pow(2).mean().sqrt()))
    error = logit_error(build(device, architecture), prompts, tokens, dtype) if engine == "cuedeck" and dtype != "fp32" \
        else None  # on the weights again (the job's decoder released them)
    return {"engine": engine, "dtype": dtype, "elapsed_s": elapsed, "prepare_s": prepare,
            "first_audio_s": first_audio if first_audio is not None else elapsed,
            "audio_seconds": candidates * duration, "throughput": candidates * duration / elapsed,
            "peak_bytes": peak, "audio_shape": list(audio.shape), "logit_error": error,
            "stream_join_error_db": join_error,
            "tokens": tokens.cpu().tolist()}


def logit_error(model, prompts, tokens, precision: str, steps: int = 32) -> dict:
    """The chosen precision against fp32 on the same inputs (the first `steps` steps of the
    job's own token sequence): largest logit difference relative to the logits' spread, and
    how often the most likely token is the same."""
    from engine.worker.fast_lm import FastDecoder

    pattern = model.lm.pattern_provider.get_pattern(tokens.shape[-1])
    sequence, _, _ = pattern.build_pattern_sequence(tokens, model.lm.special_token_id)
    sequence = sequence[..., :steps]
    exact = FastDecoder(model.lm, "fp32").teacher_forced_logits(prompts, sequence)
    approx = FastDecoder(model.lm, precision).teacher_forced_logits(prompts, sequence)
    spread = exact.std().item()
    return {"steps": steps, "max_abs": (approx - exact).abs().max().item(),
            "max_relative_to_std": (approx - exact).abs().max().item() / spread,
            "rms_relative_to_std": ((approx - exact) ** 2).mean().sqrt().item() / spread,
            "top1_agreement": (approx.argmax(-1) == exact.argmax(-1)).float().mean().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--dtype", nargs="+", choices=PRECISIONS, default=list(PRECISIONS),
                        help="CueDeck's precisions, each against the same audiocraft run")
    parser.add_argument("--architecture", choices=list(ARCHITECTURES), default="musicgen-small")
    parser.add_argument("--device", default="cuda" if os.environ.get("CUEDECK_BENCH_CUDA") else "cpu")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["reference", "cuedeck"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args.candidates, args.duration, args.dtype[0], args.device, args.architecture)))
        return

    def run(engine: str, dtype: str) -> dict:
        done = subprocess.run([sys.executable, __file__, "--only", engine, "--candidates", str(args.candidates),
                               "--duration", str(args.duration), "--dtype", dtype, "--device", args.device,
                               "--architecture", args.architecture],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            sys.exit(f"{engine} ({dtype}) failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    ref = run("reference", "fp32")
    reference_tokens = ref.pop("tokens")
    ours = {dtype: run("cuedeck", dtype) for dtype in args.dtype}
    for r in ours.values():
        r["tokens_identical"] = r.pop("tokens") == reference_tokens
        r["throughput_ratio"] = r["throughput"] / ref["throughput"]
        r["first_audio_fraction_of_reference"] = r["first_audio_s"] / ref["elapsed_s"]
    figures = {"request": {"candidates": args.candidates, "duration": args.duration, "top_k": 250, "cfg": 3.0,
                           "device": args.device, "threads": os.cpu_count(), "architecture": args.architecture},
               "reference": ref, "cuedeck": ours}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{args.architecture} architecture, {args.candidates} candidates × {args.duration:g} s, top-k 250, CFG 3, "
          f"{args.device}, {os.cpu_count()} threads; audiocraft's generate {ref['elapsed_s']:.1f} s, "
          f"peak {ref['peak_bytes'] / 1e9:.2f} GB")
    print("  | precision | audiocraft | CueDeck | ratio | first audio | peak memory | against fp32 logits |")
    print("  | --- | --- | --- | --- | --- | --- | --- |")
    for dtype, r in ours.items():
        e = r.get("logit_error")
        error = (f"max {e['max_relative_to_std']:.3f} σ, rms {e['rms_relative_to_std']:.4f} σ, "
                 f"top token {100 * e['top1_agreement']:.1f} %") if e else \
            "tokens identical" if r["tokens_identical"] else "tokens differ"
        print(f"  | {dtype} | {ref['elapsed_s']:.1f} s | {r['elapsed_s']:.1f} s (+{r['prepare_s']:.1f} s per load) "
              f"| {r['throughput_ratio']:.2f}× | {r['first_audio_s']:.1f} s = "
              f"{100 * r['first_audio_fraction_of_reference']:.1f} % | {r['peak_bytes'] / 1e9:.2f} GB "
              f"({100 * (r['peak_bytes'] / ref['peak_bytes'] - 1):+.0f} %) | {error} |")
    joins = ", ".join(f"{r['stream_join_error_db']:.0f}" for r in ours.values())
    print(f"  streamed windows joined vs one decode: {joins} dB (rms, relative)")


if __name__ == "__main__":
    main()
