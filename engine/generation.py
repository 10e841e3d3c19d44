"""Generation through audiocraft's own model classes. Imported only by the worker process.

One request is one batch: every candidate is generated together, each sampling from its own
seeded random generator, so a candidate's seed is a fact about that candidate.
"""

import contextlib
import logging
import os
import shutil
import time
import typing as tp
import warnings
from dataclasses import dataclass

# xformers warns at import that its CUDA kernels don't match this torch; CueDeck uses the
# torch attention backend, so the warning is noise for users.
logging.getLogger("xformers").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="xformers")
os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)  # checkpoints load weights_only, always

import numpy as np  # noqa: E402
import torch  # noqa: E402
import audiocraft  # noqa: E402
from audiocraft.models import AudioGen, MAGNeT, MusicGen  # noqa: E402
from audiocraft.utils import utils as audiocraft_utils  # noqa: E402

from . import paths, registry, tiny_models  # noqa: E402
from .errors import BadInput, Cancelled, GenerationFailed  # noqa: E402
from .registry import ModelInfo  # noqa: E402
from .request import GenerationRequest  # noqa: E402

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


class Generator:
    """Loads models through audiocraft's loaders and keeps the last one warm between jobs."""

    def __init__(self) -> None:
        self._name: str | None = None
        self._model = None

    def load(self, info: ModelInfo):
        if self._name == info.name:
            return self._model
        self._name, self._model = None, None  # free the old model before loading the next
        folder = _model_folder(info)
        try:
            with _refuse_pickled_code():
                model = CLASSES[info.family].get_pretrained(str(folder), device="cpu")
        except BadInput:
            raise
        except Exception as e:
            raise GenerationFailed(
                f"could not load model {info.name!r} from {folder}: {e}; "
                "its files may be incomplete or corrupted (copy or download them again)") from e
        self._name, self._model = info.name, model
        return model

    def generate(self, request: GenerationRequest,
                 on_progress: tp.Callable[[int, int], None] = lambda step, total: None,
                 should_cancel: tp.Callable[[], bool] = lambda: False) -> Batch:
        """Generate every candidate of `request` as one batch.

        `on_progress(step, total)` is called after every decoding step; when `should_cancel()`
        turns true the job stops at the next step and raises Cancelled.
        """
        request = request.validated()
        info = registry.get(request.model)
        model = self.load(info)
        model.set_generation_params(
            use_sampling=request.temperature > 0, top_k=request.top_k, top_p=request.top_p,
            temperature=request.temperature, cfg_coef=request.cfg_coef, duration=request.duration)

        def progress(step: int, total: int) -> None:
            if should_cancel():
                raise Cancelled("cancelled; nothing was written")
            on_progress(step, total)

        model.set_custom_progress_callback(progress)
        seeds = request.candidate_seeds()
        started = time.perf_counter()
        torch.manual_seed(request.seed)  # anything else audiocraft draws
        with torch.inference_mode(), _per_candidate_sampling(seeds):
            audio, tokens = model.generate([request.prompt] * request.candidates,
                                           progress=True, return_tokens=True)
        if should_cancel():
            raise Cancelled("cancelled; nothing was written")
        return Batch(audio=audio.float().cpu().numpy(), tokens=tokens.cpu().numpy(),
                     sample_rate=model.sample_rate,
                     seeds=seeds, elapsed=time.perf_counter() - started)


def _model_folder(info: ModelInfo):
    registry.require_present(info)
    folder = info.local_folder()
    if folder is None and info.tiny:
        target = paths.models_dir() / info.name
        shutil.rmtree(target, ignore_errors=True)  # an incomplete folder of ours
        folder = tiny_models.build(info.name, target)
    return folder


@contextlib.contextmanager
def _refuse_pickled_code():
    """Checkpoints load with torch's `weights_only` loader; say so when a file needs more."""
    try:
        yield
    except Exception as e:
        if "Unsupported global" in str(e):  # torch names the class it refused to unpickle
            raise BadInput("refusing a checkpoint that needs arbitrary pickled code to load; "
                           "use the model's official release files") from e
        raise


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
