"""Splitting a cue into instrument stems with demucs (HTDemucs), in the worker process.

The separator is read from the Hugging Face cache only (engine.models installs or imports
it there), never fetched, so a worker on an offline machine does not wait on a network.
It is loaded on the first split and kept for the next.
"""

import time

import numpy as np
import torch

from .. import registry
from ..errors import Cancelled, GenerationFailed
from ..registry import SEPARATOR, SEPARATOR_BAG, STEM_ROLES


class Separator:
    def __init__(self, device: str = "cpu"):
        self.device = device
        self._model = None
        self.version = ""  # "demucs 4.1.0, htdemucs (adefossez/HTDemucs 0123abcd)": for provenance

    def _load(self):
        registry.require_separator()
        if self._model is None:
            import demucs
            import yaml
            from demucs.apply import BagOfModels
            from demucs.hf import load_safetensors_model

            bag_file = registry.cached_file(SEPARATOR, SEPARATOR_BAG)
            bag = yaml.safe_load(bag_file.read_text())
            try:
                models = [load_safetensors_model(registry.cached_file(SEPARATOR, f"{sig}.safetensors"))
                          for sig in bag["models"]]
            except Exception as e:  # a damaged download: say what to do
                raise GenerationFailed(f"the stem separator's files cannot be read ({type(e).__name__}: {e}); "
                                       f"remove and install {registry.SEPARATOR_MODEL.name} again") from None
            model = BagOfModels(models, bag.get("weights"), bag.get("segment"))
            if list(model.sources) != list(STEM_ROLES):
                raise GenerationFailed(f"the installed separator makes {', '.join(model.sources)}, not "
                                       f"{', '.join(STEM_ROLES)}; install {registry.SEPARATOR_MODEL.name} again")
            self._model = model.eval().to(self.device)
            revision = bag_file.parent.name[:8]
            self.version = f"demucs {demucs.__version__}, htdemucs ({SEPARATOR} {revision})"
        return self._model

    def separate(self, audio: np.ndarray, rate: int, on_progress, should_cancel) -> tuple[dict, float]:
        """({role: audio [channels, samples]} at `rate` with `audio`'s channels and length,
        seconds taken). The separator runs at its own rate in stereo; its stems come back
        to the cue's rate and channels. `on_progress(fraction)` goes 0–1; `should_cancel`
        is asked between segments."""
        from audiocraft.data.audio_utils import convert_audio
        from demucs.apply import apply_model

        started = time.monotonic()
        model = self._load()
        channels, length = audio.shape
        mix = convert_audio(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
                            rate, model.samplerate, model.audio_channels)
        # demucs expects the mix normalised, and returns stems at its scale
        reference = mix.mean(0)
        centre, scale = reference.mean(), reference.std() + 1e-8
        segment = float(model.models[0].segment) * model.samplerate  # (apply_model splits by it)
        total = mix.shape[-1] * len(model.models)

        def callback(d: dict) -> None:
            if should_cancel():
                raise Cancelled("splitting cancelled; no stems were kept")
            if d["state"] == "end":
                done = d["model_idx_in_bag"] * mix.shape[-1] + min(d["segment_offset"] + segment, mix.shape[-1])
                on_progress(min(done / total, 1.0))

        with torch.no_grad():
            stems = apply_model(model, ((mix - centre) / scale)[None].to(self.device), shifts=0, split=True,
                                overlap=0.25, callback=callback)[0].cpu() * scale + centre
        out = {}
        for role, stem in zip(model.sources, stems):
            back = convert_audio(stem, model.samplerate, rate, channels)[:, :length]
            if back.shape[-1] < length:  # resampling may come a frame short
                back = torch.nn.functional.pad(back, (0, length - back.shape[-1]))
            out[role] = back.numpy().astype(np.float32)
        return out, time.monotonic() - started
