"""A cue: one generated candidate as the library keeps it, with every fact of its making.
Its own module, so code that only reads cues (mixdown, export, the window) does not depend
on the SQLite library."""

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cue:
    id: int
    path: Path  # absolute
    prompt: str
    model: str
    licence: str
    audiocraft_version: str
    cuedeck_version: str
    duration: float
    sample_rate: int
    channels: int
    top_k: int
    top_p: float
    temperature: float
    cfg_coef: float
    seed: int
    request_seed: int
    batch_size: int
    batch_index: int
    job_id: str
    sha256: str
    loudness_lufs: float | None
    peak: float
    conditioning_sha256: str | None
    conditioning_source: str | None
    parent_id: int | None
    created_at: str
    rating: int
    catid: str | None
    notes: str
    keep: bool
    tags: tuple[str, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["tags"] = list(self.tags)
        return d
