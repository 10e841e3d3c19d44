"""The models CueDeck knows: audiocraft's released checkpoints plus two tiny test models.

Plain data, no torch: the UI process reads it to fill the model picker.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths
from .errors import BadInput, ModelNotPresent

WINDOWS = 4  # a cue may be up to 4 windows long (MusicGen/AudioGen extend window by window)
WEIGHTS_LICENCE = "CC-BY-NC-4.0"
TINY_LICENCE = "MIT (CueDeck test model: untrained random weights, produces noise)"
CHECKPOINT_FILES = ("state_dict.bin", "compression_state_dict.bin")
DOWNLOADING = ".downloading"  # in a model's folder while a download runs (holds the pid)
TEXT_ENCODER = "t5-base"  # every released model's text conditioner, loaded by transformers
TEXT_ENCODER_FILES = ("config.json", "spiece.model", "tokenizer.json", "model.safetensors")
SEPARATOR = "adefossez/HTDemucs"  # demucs, which melody models run to keep the melody stems
SEPARATOR_BAG = "htdemucs.yaml"   # names the safetensors files of the separator
STEM_ROLES = ("drums", "bass", "other", "vocals")  # what the separator splits a cue into, in its order
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
    def windows(self) -> int:
        """How many windows a cue may span: MusicGen and AudioGen extend window by window,
        MAGNeT makes one."""
        return 1 if self.family == "magnet" else WINDOWS

    @property
    def longest(self) -> float:
        """The longest cue this model makes, in seconds."""
        return self.max_duration * self.windows

    @property
    def can_continue(self) -> bool:
        """Whether it continues a cue from its end (more like this); MAGNeT cannot."""
        return self.family != "magnet"

    @property
    def audio(self) -> str:
        """"music, 32 kHz mono": what it makes."""
        return f"{self.kind}, {self.sample_rate // 1000} kHz {'stereo' if self.channels == 2 else 'mono'}"

    @property
    def label(self) -> str:
        """The one-line description every list of models shows."""
        what = "untrained test model, noise" if self.tiny else f"{self.licence} weights"
        if self.family == "demucs":
            return f"{self.name} (stem separator: {', '.join(STEM_ROLES)}; {what})"
        return f"{self.name} ({self.audio}, {self.max_duration:g} s windows, {what})"

    def local_folder(self) -> Path | None:
        """The folder holding this model's checkpoint files, or None when it is not here."""
        if self.family == "demucs":  # the separator lives in the hub cache only
            return None
        own = paths.models_dir() / self.name
        if all((own / f).is_file() for f in CHECKPOINT_FILES) and not (own / DOWNLOADING).exists():
            return own
        if self.hub_id is None:
            return None
        found = [cached_file(self.hub_id, f) for f in CHECKPOINT_FILES]
        return found[0].parent if all(found) else None

    def is_present(self) -> bool:
        """Ready to generate offline: the checkpoint files and, for released models, the T5
        text encoder. Tiny models are built on first use, so they are always available."""
        melody_ready = "melody" not in self.conditioning or separator_present()
        if self.family == "demucs":
            return separator_present()
        if self.tiny:
            return melody_ready
        return self.local_folder() is not None and text_encoder_present() and melody_ready

    def to_dict(self) -> dict:
        d = asdict(self)
        d["conditioning"] = list(self.conditioning)
        d["present"] = self.is_present()
        folder = None if self.tiny else self.local_folder()
        d["path"] = str(folder) if folder else None
        return d


# The Hugging Face cache, as huggingface_hub itself resolves and reads it (HF_HUB_CACHE,
# HF_HOME…, read when it is first imported). Imported on first use: it costs a quarter second.

def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_repo_dir(repo: str, cache: Path | None = None) -> Path:
    """The folder of model `repo` ("owner/name") in the Hugging Face cache."""
    from huggingface_hub.file_download import repo_folder_name

    return (cache or hub_cache_dir()) / repo_folder_name(repo_id=repo, repo_type="model")


def cached_file(repo: str, filename: str) -> Path | None:
    """A file of `repo` in the Hugging Face cache (its main revision), or None. No network."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename)
    return Path(found) if isinstance(found, str) else None


def text_encoder_present() -> bool:
    return all(cached_file(TEXT_ENCODER, f) for f in ("config.json", "spiece.model", "model.safetensors"))


def separator_files() -> list[str]:
    """The separator's files in the cache ([] when its bag file is not there)."""
    bag = cached_file(SEPARATOR, SEPARATOR_BAG)
    if bag is None:
        return []
    import yaml

    return [SEPARATOR_BAG] + [f"{sig}.safetensors" for sig in yaml.safe_load(bag.read_text())["models"]]


def separator_present() -> bool:
    files = separator_files()
    return bool(files) and all(cached_file(SEPARATOR, f) for f in files)


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
    ModelInfo("tiny-melody", None, "musicgen", "music", 32000, 1, 30.0, 0, TINY_LICENCE,
              ("text", "melody"), card=256, tiny=True),
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


# The stem separator, installed, imported and removed like a model (engine.models) but not a
# generator: splitting cues into stems and melody models run it.
SEPARATOR_MODEL = ModelInfo("htdemucs", SEPARATOR, "demucs", "stems", 44100, 2, 0.0, int(0.1 * GB), "MIT",
                            (), card=0)


def commercial(licence: str) -> bool:
    """Whether weights under `licence` may make cues for a commercial delivery (CC-BY-NC: no)."""
    return "-NC" not in licence.upper()


def installable(name: str) -> ModelInfo:
    """A model or the stem separator: what the model manager handles."""
    return SEPARATOR_MODEL if name == SEPARATOR_MODEL.name else get(name)


def require_separator() -> None:
    if not separator_present():
        raise ModelNotPresent(f"splitting into stems needs the demucs stem separator {SEPARATOR_MODEL.name} "
                              "(about 0.1 GB, installed once in File › Models, Ctrl+Shift+M)", SEPARATOR_MODEL.name)


def get(name: str) -> ModelInfo:
    try:
        return MODELS[name]
    except KeyError:
        raise BadInput(f"unknown model {name!r}; run `cuedeck models` to list them") from None


def require_present(info: ModelInfo) -> None:
    if info.tiny and not info.is_present():
        raise ModelNotPresent(f"{info.name} needs the demucs stem separator that melody models use; "
                              f"install {SEPARATOR_MODEL.name} once", SEPARATOR_MODEL.name)
    if not info.is_present():
        raise ModelNotPresent(
            f"model {info.name!r} is not ready on this machine"
            + ("" if info.local_folder() is None else " (the T5 text encoder it needs is missing)")
            + f": install it once ({info.download_bytes / 1e9:.1f} GB), or import a copied folder "
            f"with {' and '.join(CHECKPOINT_FILES)}", info.name)
