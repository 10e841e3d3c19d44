"""The models CueDeck knows: audiocraft's released checkpoints plus two tiny test models.

Plain data, no torch: the UI process reads it to fill the model picker.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths
from .errors import BadInput, ModelNotPresent

WEIGHTS_LICENCE = "CC-BY-NC-4.0"
TINY_LICENCE = "MIT (CueDeck test model: untrained random weights, produces noise)"
CHECKPOINT_FILES = ("state_dict.bin", "compression_state_dict.bin")
DOWNLOADING = ".downloading"  # in a model's folder while a download runs (holds the pid)
GB = 1_000_000_000


@dataclass(frozen=True)
class ModelInfo:
    name: str
    hub_id: str | None  # None for models CueDeck builds itself
    family: str  # audiocraft class: musicgen | audiogen | magnet
    kind: str  # music | sfx
    sample_rate: int
    channels: int
    max_duration: float  # seconds one window of the model produces
    download_bytes: int  # approximate, weights plus the text encoder they pull in
    licence: str
    conditioning: tuple[str, ...]
    card: int  # codebook size: top-k may not exceed it
    tiny: bool = False

    @property
    def label(self) -> str:
        what = "untrained test model, noise" if self.tiny else f"{self.licence} weights"
        return f"{self.name} ({self.kind}, {self.sample_rate // 1000} kHz, {what})"

    def local_folder(self) -> Path | None:
        """The folder holding this model's checkpoint files, or None when it is not here."""
        own = paths.models_dir() / self.name
        if all((own / f).is_file() for f in CHECKPOINT_FILES) and not (own / DOWNLOADING).exists():
            return own
        if self.hub_id is None:
            return None
        from huggingface_hub import try_to_load_from_cache  # light; no network

        found = [try_to_load_from_cache(self.hub_id, f) for f in CHECKPOINT_FILES]
        if all(isinstance(f, str) for f in found):
            return Path(found[0]).parent
        return None

    def is_present(self) -> bool:
        # Tiny models are built on first use, so they are always available.
        return self.tiny or self.local_folder() is not None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["conditioning"] = list(self.conditioning)
        d["present"] = self.is_present()
        folder = None if self.tiny else self.local_folder()
        d["path"] = str(folder) if folder else None
        return d


def _musicgen(name, size_gb, channels=1, melody=False):
    return ModelInfo(
        name=name, hub_id=f"facebook/{name}", family="musicgen", kind="music",
        sample_rate=32000, channels=channels, max_duration=30.0,
        download_bytes=int(size_gb * GB), licence=WEIGHTS_LICENCE,
        conditioning=("text", "melody") if melody else ("text",), card=2048)


def _magnet(name, kind, sample_rate, max_duration, size_gb):
    return ModelInfo(
        name=name, hub_id=f"facebook/{name}", family="magnet", kind=kind,
        sample_rate=sample_rate, channels=1, max_duration=max_duration,
        download_bytes=int(size_gb * GB), licence=WEIGHTS_LICENCE,
        conditioning=("text",), card=2048)


MODELS: dict[str, ModelInfo] = {m.name: m for m in [
    ModelInfo("tiny-music", None, "musicgen", "music", 32000, 1, 30.0, 0, TINY_LICENCE,
              ("text",), card=256, tiny=True),
    ModelInfo("tiny-sfx", None, "audiogen", "sfx", 16000, 1, 10.0, 0, TINY_LICENCE,
              ("text",), card=256, tiny=True),
    ModelInfo("tiny-stereo", None, "musicgen", "music", 32000, 2, 30.0, 0, TINY_LICENCE,
              ("text",), card=256, tiny=True),
    ModelInfo("tiny-magnet", None, "magnet", "music", 32000, 1, 10.0, 0, TINY_LICENCE,
              ("text",), card=256, tiny=True),
    _musicgen("musicgen-small", 1.8),
    _musicgen("musicgen-medium", 4.2),
    _musicgen("musicgen-large", 7.5),
    _musicgen("musicgen-melody", 4.3, melody=True),
    _musicgen("musicgen-stereo-small", 1.8, channels=2),
    _musicgen("musicgen-stereo-medium", 4.2, channels=2),
    _musicgen("musicgen-stereo-large", 7.5, channels=2),
    _musicgen("musicgen-stereo-melody", 4.3, channels=2, melody=True),
    _musicgen("musicgen-stereo-melody-large", 7.6, channels=2, melody=True),
    ModelInfo("audiogen-medium", "facebook/audiogen-medium", "audiogen", "sfx", 16000, 1, 10.0,
              int(4.1 * GB), WEIGHTS_LICENCE, ("text",), card=2048),
    _magnet("magnet-small-10secs", "music", 32000, 10.0, 1.6),
    _magnet("magnet-medium-10secs", "music", 32000, 10.0, 4.0),
    _magnet("magnet-small-30secs", "music", 32000, 30.0, 1.6),
    _magnet("magnet-medium-30secs", "music", 32000, 30.0, 4.0),
    _magnet("audio-magnet-small", "sfx", 16000, 10.0, 1.6),
    _magnet("audio-magnet-medium", "sfx", 16000, 10.0, 4.0),
]}


def get(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        raise BadInput(f"unknown model {name!r}; run `cuedeck models` to list them") from None


def require_present(info: ModelInfo) -> None:
    if not info.is_present():
        raise ModelNotPresent(
            f"model {info.name!r} is not on this machine: download it once with "
            f"`cuedeck models install {info.name}`, or copy a folder with "
            f"{' and '.join(CHECKPOINT_FILES)} in with `cuedeck models import {info.name} DIR`")
