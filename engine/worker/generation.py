"""Generation through audiocraft's own model classes. Imported only by the worker process.

One request is one batch: every candidate is generated together, each sampling from its own
seeded random generator, so a candidate's seed is a fact about that candidate.
"""

import contextlib
import gc
import os
import shutil
import time
import typing as tp
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.utils.serialization
import audiocraft
from audiocraft.models import AudioGen, MAGNeT, MusicGen
from audiocraft.modules.transformer import set_efficient_attention_backend
from audiocraft.utils import utils as audiocraft_utils

from .. import paths, registry, resources
from ..errors import BadInput, Cancelled, GenerationFailed
from ..registry import ModelInfo
from ..request import GenerationRequest
from . import fast_lm, streaming, tiny_models
from .negative import steering_away_from
from .fast_lm import FastDecoder
from .streaming import StreamingDecoder

CLASSES = {"musicgen": MusicGen, "audiogen": AudioGen, "magnet": MAGNeT}
AUDIOCRAFT_VERSION = audiocraft.__version__


@dataclass
class Batch:
    """What a request produced: float32 audio [candidates, channels, samples], the codec
    tokens [candidates, codebooks, frames] it was decoded from, and its facts."""

    audio: np.ndarray
    tokens: np.ndarray
    sample_rate: int
    seeds: list[int]
    elapsed: float
    device: str  # where it ran: cpu, cuda or mps
    precision: str  # of CueDeck's decoder as it ran (bf16 asked on a CPU without it runs fp32)


GENERATING = 0.9  # of a job's progress bar; decoding the tokens to audio takes it to here


def window_steps(duration: float, max_duration: float, stride: float | None, frame_rate: float,
                 prompt_frames: int = 0) -> list[tuple[int, int]]:
    """(token offset, steps) of each window audiocraft generates for a cue of `duration`:
    one window, or windows `stride` seconds apart that each continue the last (mirrors
    `BaseGenModel._generate_tokens`)."""
    total = int(duration * frame_rate)
    if duration <= max_duration or not stride:
        return [(0, max(total - prompt_frames, 1))]
    windows, offset, prompt = [], 0, prompt_frames
    while offset + prompt < total:
        length = int(min(duration - offset / frame_rate, max_duration) * frame_rate)
        windows.append((offset, max(length - prompt, 1)))
        prompt, offset = length - int(stride * frame_rate), offset + int(stride * frame_rate)
    return windows


class JobProgress:
    """audiocraft's per-step callbacks, `(offset + step, steps of this window)`, as the
    fraction of the whole job: windows in turn, then decoding. Never goes back, never
    passes 1, and names the stage ("window 2 of 3", "decoding")."""

    def __init__(self, windows: list[tuple[int, int]], report: tp.Callable[[float, str], None]):
        self._windows, self._report = windows, report
        self._total = sum(steps for _, steps in windows)
        self._window, self._last, self.fraction = 0, 0, 0.0

    def step(self, generated: int, steps: int) -> None:
        if generated < self._last and self._window < len(self._windows) - 1:
            self._window += 1  # audiocraft started the next window
        self._last = generated
        offset, weight = self._windows[self._window]
        before = sum(s for _, s in self._windows[:self._window])
        local = min(max((generated - offset) / steps, 0.0), 1.0) if steps else 1.0
        count = len(self._windows)
        if local == 1.0 and self._window == count - 1:
            self._set(GENERATING, "decoding")  # the last token: the codec decodes next
        else:
            self._set(GENERATING * (before + local * weight) / self._total,
                      f"window {self._window + 1} of {count}" if count > 1 else "generating")

    def _set(self, fraction: float, stage: str) -> None:
        self.fraction = min(max(self.fraction, fraction), 1.0)
        self._report(self.fraction, stage)


def pick_device(asked: str = "auto") -> str:
    """CUDA when there is one, else Apple MPS, else CPU (or what was asked, if it exists)."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()}
    if asked == "auto":
        return "cuda" if available["cuda"] else "mps" if available["mps"] else "cpu"
    if not available.get(asked):
        raise BadInput(f"there is no {asked.upper()} device on this machine; use --device auto or cpu")
    return asked


def memory_needed(info: ModelInfo, folder, device: str) -> int:
    """Bytes a model needs loaded: its weights (half on CUDA, which runs fp16), the T5 text
    encoder real models use, and room for activations and the attention cache."""
    weights = sum((Path(folder) / f).stat().st_size for f in registry.CHECKPOINT_FILES)
    if device == "cuda":
        weights //= 2
    text_encoder = 0 if info.tiny else 900_000_000
    return weights + text_encoder + (50_000_000 if info.tiny else 1_000_000_000)


def job_memory(model, request: GenerationRequest) -> int:
    """Bytes a job needs beside the loaded model: the attention cache of every row (two per
    candidate with classifier-free guidance) and the decoded audio with EnCodec's widest
    activations (its first filters, at the full rate, a few alive at once; a stereo codec
    wraps a mono one, which decodes each channel)."""
    rows = request.candidates * (2 if request.cfg_coef != 1.0 else 1)
    frames = int(min(request.duration, model.max_duration) * model.frame_rate) + 1
    cache = 2 * len(model.lm.transformer.layers) * rows * frames * model.lm.dim * 4
    samples = int(request.duration * model.sample_rate) * request.candidates * model.audio_channels
    codec = model.compression_model
    decoder = getattr(codec, "decoder", None) or getattr(getattr(codec, "model", None), "decoder", None)
    return cache + samples * (1 + 3 * getattr(decoder, "n_filters", 64)) * 4


def memory_available(device: str) -> int:
    return torch.cuda.mem_get_info()[0] if device == "cuda" else resources.available_memory()


class Generator:
    """Loads models through audiocraft's loaders and keeps the last one warm between jobs;
    a different model or device frees the old one first. A decoder on a CPU in a reduced
    precision (or in fp32 where AMX packs it) holds the weights in its own form, so the model's
    fp32 weights are released when it is built: a later job that needs them (another
    precision, or audiocraft's own generate) loads the model again."""

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._model = None
        self._decoders: dict[str, FastDecoder] = {}  # per precision, for the loaded model
        self._released = False  # the loaded model's weights: only its decoders run

    def load(self, info: ModelInfo, device: str = "auto", decoder: str | None = None):
        """The model, loaded once; `decoder` is the precision of CueDeck's decoder the job
        runs on, if it runs on one."""
        device = pick_device(device)
        if self._key == (info.name, device) and (not self._released or decoder in self._decoders):
            return self._model
        if self._model is not None:  # free the old model before loading the next
            self._key, self._model, self._decoders, self._released = None, None, {}, False
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        folder = _model_folder(info)
        needed, free = memory_needed(info, folder, device), memory_available(device)
        if needed > free:
            raise BadInput(f"{info.name} needs about {needed / 1e9:.1f} GB of memory on {device} and "
                           f"{free / 1e9:.1f} GB is free; close other programs or pick a smaller model")
        try:
            with _weights_only(), _without_random_init(), _mapped(folder):
                model = CLASSES[info.family].get_pretrained(str(folder), device=device)
            # audiocraft's MAGNeT loader switches attention to xformers, whose kernels need a
            # GPU; torch's own attention runs everywhere, with the same weights.
            set_efficient_attention_backend("torch")
        except BadInput:
            raise
        except Exception as e:
            raise GenerationFailed(
                f"could not load model {info.name!r} from {folder}: {e}; "
                "its files may be incomplete or corrupted (copy or download them again)") from e
        self._key, self._model = (info.name, device), model
        return model

    def prepare(self, request: GenerationRequest) -> None:
        """Load the model of `request` and build its decoder, as its job would."""
        model = self.load(registry.get(request.model), request.device, request.precision)
        if fast_lm.supports(model.lm):
            self._decoder(model, request.precision)
            streaming.prepare(model.compression_model)

    def generate(self, request: GenerationRequest,
                 on_progress: tp.Callable[[float, str], None] = lambda fraction, stage: None,
                 should_cancel: tp.Callable[[], bool] = lambda: False,
                 prompt_audio: tuple[np.ndarray, int] | None = None,
                 melody: tuple[np.ndarray, int] | None = None,
                 on_audio: tp.Callable[[np.ndarray, float, int], None] | None = None) -> Batch:
        """Generate every candidate of `request` as one batch.

        `prompt_audio` (audio [channels, samples], sample rate) makes every candidate a
        continuation of it; `melody` (the same form) conditions melody models on its chroma; a duration past the model's window is generated window by window
        (audiocraft's extension). `on_progress(fraction, stage)` follows the whole job (see
        JobProgress) after every decoding step; when `should_cancel()` turns true the job stops at the next step and raises
        Cancelled. Text-only jobs within one window run on CueDeck's decoder (engine.worker.fast_lm)
        and, with `on_audio(audio [candidates, channels, samples], start_seconds, rate)`, stream the
        audio of every candidate in pieces while they generate.
        """
        request = request.validated()
        info = registry.get(request.model)
        on_decoder = prompt_audio is None and melody is None and request.duration <= info.max_duration
        model = self.load(info, request.device, request.precision if on_decoder else None)
        if info.family == "magnet":  # iterative decoding: CFG anneals from cfg_coef to 1
            model.set_generation_params(
                use_sampling=request.temperature > 0, top_k=request.top_k, top_p=request.top_p,
                temperature=request.temperature, max_cfg_coef=request.cfg_coef, min_cfg_coef=1.0)
            model.duration = request.duration
        else:
            model.set_generation_params(
                use_sampling=request.temperature > 0, top_k=request.top_k, top_p=request.top_p,
                temperature=request.temperature, cfg_coef=request.cfg_coef, duration=request.duration)

        prompt_frames = 0 if prompt_audio is None else \
            int(np.ceil(prompt_audio[0].shape[-1] / prompt_audio[1] * model.frame_rate))
        job = JobProgress(window_steps(request.duration, model.max_duration, model.extend_stride,
                                       model.frame_rate, prompt_frames), on_progress)

        def progress(step: int, total: int) -> None:
            if should_cancel():
                raise Cancelled("cancelled; nothing was written")
            job.step(step, total)

        model.set_custom_progress_callback(progress)
        needed, free = job_memory(model, request), memory_available(model.device.type)
        if needed > free:
            raise BadInput(f"{request.candidates} candidates of {request.duration:g} s need about "
                           f"{needed / 1e9:.1f} GB of memory beside the model and {free / 1e9:.1f} GB "
                           "is free; ask for fewer candidates or a shorter duration")
        seeds = request.candidate_seeds()
        started = time.perf_counter()
        torch.manual_seed(request.seed)  # anything else audiocraft draws
        descriptions = [request.prompt] * request.candidates
        precision = request.precision
        fast = on_decoder and fast_lm.supports(model.lm)
        with torch.inference_mode(), _per_candidate_sampling(seeds), steering_away_from(request.negative):
            if fast:
                tokens, audio, precision = self._fast(model, request, descriptions, progress, on_audio)
            elif melody is not None:
                wav = _batch_of(melody[0], request.candidates, model.device)
                audio, tokens = model.generate_with_chroma(descriptions, wav, melody[1], progress=True,
                                                           return_tokens=True)
            elif prompt_audio is None:
                audio, tokens = model.generate(descriptions, progress=True, return_tokens=True)
            else:
                prompt = _batch_of(prompt_audio[0], request.candidates, model.device)
                audio, tokens = model.generate_continuation(prompt, prompt_audio[1], descriptions,
                                                            progress=True, return_tokens=True)
        if should_cancel():
            raise Cancelled("cancelled; nothing was written")
        return Batch(audio=audio.float().cpu().numpy(), tokens=tokens.cpu().numpy(),
                     sample_rate=model.sample_rate,
                     seeds=seeds, elapsed=time.perf_counter() - started, device=model.device.type,
                     precision=precision)

    def _fast(self, model, request, descriptions, progress, on_audio):
        """Tokens from CueDeck's decoder, audio decoded window by window as they come, and
        the precision it ran in."""
        decoder = self._decoder(model, request.precision)
        frames = int(request.duration * model.frame_rate)
        heard = on_audio or (lambda audio, start, rate: None)
        stream = StreamingDecoder(model.compression_model, frames,
                                  lambda piece, start: heard(piece.float().cpu().numpy(), start, model.sample_rate))
        tokens = decoder.generate(
            descriptions, frames, use_sampling=request.temperature > 0,
            temp=request.temperature, top_k=request.top_k, top_p=request.top_p, cfg_coef=request.cfg_coef,
            callback=progress, on_frames=stream.frames_ready, negative=request.negative)
        return tokens, stream.audio(), decoder.precision

    def _decoder(self, model, precision: str) -> FastDecoder:
        """The loaded model's decoder in `precision`, built once."""
        if precision == "int8" and model.device.type != "cpu":
            raise BadInput("int8 precision runs on the CPU; on a GPU use fp32 or bf16")
        if precision not in self._decoders:
            assert not self._released, "load() gives a whole model to a new decoder"
            if fast_lm.packs_weights(precision, model.device):
                self._decoders.clear()  # they compute with the weights the new one may release
            decoder = FastDecoder(model.lm, precision, release=True)
            self._released = decoder.released
            self._decoders[precision] = decoder
        return self._decoders[precision]


def _batch_of(samples: np.ndarray, candidates: int, device) -> torch.Tensor:
    """The same audio [channels, samples] for every candidate: [candidates, channels, samples]."""
    audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    return audio[None].expand(candidates, -1, -1).to(device)


def _model_folder(info: ModelInfo):
    registry.require_present(info)
    folder = info.local_folder()
    if folder is None and info.tiny:
        target = paths.models_dir() / info.name
        shutil.rmtree(target, ignore_errors=True)  # an incomplete folder of ours
        folder = tiny_models.build(info.name, target)
    return folder


@contextlib.contextmanager
def _weights_only():
    """Checkpoints load with torch's `weights_only` loader, whatever the environment asks;
    say so when a file needs more."""
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)  # torch reads it at each load
    try:
        yield
    except Exception as e:
        if "Unsupported global" in str(e):  # torch names the class it refused to unpickle
            raise BadInput("refusing a checkpoint that needs arbitrary pickled code to load; "
                           "use the model's official release files") from e
        raise


@contextlib.contextmanager
def _without_random_init():
    """Modules built without drawing random weights: audiocraft builds a model, then loads
    every weight from its file (strictly: a missing one is an error), so the draws were thrown
    away (4.8 s of musicgen-small's 6.4 s load on two cores). torch's attention and transformer
    modules import some initialisers by name: those too (0.3 s more)."""
    names = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
             "xavier_uniform_", "xavier_normal_", "orthogonal_", "constant_", "zeros_", "ones_")
    modules = (torch.nn.init, torch.nn.modules.activation, torch.nn.modules.transformer)
    saved = [(module, name, getattr(module, name)) for module in modules for name in names if hasattr(module, name)]
    for module, name, _ in saved:
        setattr(module, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)


@contextlib.contextmanager
def _mapped(folder: Path):
    """torch.load maps the checkpoint files of `folder` instead of reading each into new memory
    first (about 2 s less for musicgen-small here, where fresh memory is slow). Only files in
    torch's zip format can be mapped: a folder with any other file loads as before."""
    config = torch.utils.serialization.config.load
    before, config.mmap = config.mmap, all(zipfile.is_zipfile(f) for f in folder.glob("*.bin"))
    try:
        yield
    finally:
        config.mmap = before


@contextlib.contextmanager
def _per_candidate_sampling(seeds: list[int]):
    """Make audiocraft's sampler draw each candidate's tokens from that candidate's generator.

    audiocraft samples the whole batch from torch's global generator, so a candidate would
    depend on its neighbours. Its sampling helpers all go through `utils.multinomial`, whose
    input has the batch as its first dimension; swapping that one function for the job gives
    every row its own seeded generator.
    """
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    original = audiocraft_utils.multinomial

    def multinomial(input, num_samples, replacement=False, *, generator=None):
        if input.shape[0] != len(generators):  # not a per-candidate draw (e.g. MAGNeT masks)
            return original(input, num_samples, replacement, generator=generator)
        rows = [original(row, num_samples, replacement, generator=g)
                for row, g in zip(input, generators)]
        return torch.stack(rows)

    audiocraft_utils.multinomial = multinomial
    try:
        yield
    finally:
        audiocraft_utils.multinomial = original
