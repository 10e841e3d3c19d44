"""The engine's message protocol: typed messages that travel as JSON.

Transport-neutral on purpose: the engine receives a request and returns progress, partial
audio and, for each candidate, its audio and the facts of its making. It never touches the
library; the side that owns the library writes files and rows (engine.exchange.keep). Audio
crosses as raw float32 files named inside the job's exchange folder (engine.exchange), never
as a path of the engine's choosing. Every message carries the protocol version, which
changes whenever a field does.
"""

import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass

from .analysis import Measures
from .errors import ProtocolError  # also p.ProtocolError, for the client and the worker
from .request import GenerationRequest

VERSION = 7  # 2: Fatal; 3: Progress carries the fraction of the whole job; 4: typed facts, no library;
# 5: each candidate measured; 6: Separate a cue into stems; 7: Prepare


# -- parts of messages ---------------------------------------------------------------------

@dataclass(frozen=True)
class Conditioning:
    """Audio a job starts from: the end of a cue to continue ("prompt"), a melody, or a cue
    to split into stems ("whole"), as float32 frames (channels interleaved) in `file` of the
    job's exchange folder."""
    kind: str  # prompt | melody | whole
    file: str
    sample_rate: int
    channels: int
    sha256: str  # of the samples, for provenance
    source: str  # in words: "cue 12, last 5.00 s", "melody: theme.wav"


@dataclass(frozen=True)
class Candidate:
    """One candidate's audio: float32 frames (channels interleaved) in `file` of the job's
    exchange folder."""
    index: int
    seed: int
    file: str
    frames: int
    channels: int
    measures: Measures | None = None  # tempo, key, …: measured where the audio was made


@dataclass(frozen=True)
class Stem:
    """One instrument of a separated cue: float32 frames (channels interleaved) in `file` of
    the job's exchange folder."""
    role: str  # drums | bass | other | vocals (registry.STEM_ROLES)
    file: str
    frames: int
    channels: int
    measures: Measures | None = None


@dataclass(frozen=True)
class Making:
    """Facts of a batch's making that the request does not hold."""
    model: str
    device: str  # cpu | cuda | mps
    audiocraft_version: str
    torch_version: str
    conditioning_sha256: str | None = None
    conditioning_source: str | None = None
    place: str | None = None  # where it ran, when not on this computer: "Ray cluster ADDRESS, node …"


# -- requests (client → engine) ------------------------------------------------------------

@dataclass(frozen=True)
class Generate:
    job_id: str
    request: GenerationRequest
    exchange: str  # the name of the job's folder in the exchange (engine.exchange)
    conditioning: Conditioning | None = None


@dataclass(frozen=True)
class Separate:
    """Split cue `cue_id`, whose whole audio is `audio`, into its instruments' stems."""
    job_id: str
    cue_id: int
    exchange: str
    audio: Conditioning


@dataclass(frozen=True)
class Cancel:
    job_id: str


@dataclass(frozen=True)
class Prepare:
    """Load the request's model and its precision's decoder now, while the user is still
    typing, so the job that follows starts warm. No answer: that job reports any failure."""
    request: GenerationRequest


@dataclass(frozen=True)
class Shutdown:
    pass


# -- events (engine → client) --------------------------------------------------------------

@dataclass(frozen=True)
class Ready:
    pid: int
    versions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """How far the whole job is (0–1, never going back) and its stage in words:
    "generating", "window 2 of 3", "decoding", "saving"."""
    job_id: str
    fraction: float
    stage: str = "generating"


@dataclass(frozen=True)
class Preview:
    """The first `seconds` of every candidate, while the job still runs: float32 frames
    (channels interleaved) in `files` of the job's exchange folder, one per candidate."""
    job_id: str
    seconds: float
    sample_rate: int
    channels: int
    files: list[str]


@dataclass(frozen=True)
class Result:
    """Every candidate of a job, in batch order, with the request as the engine ran it
    (its seed filled in) and the facts of its making."""
    job_id: str
    request: GenerationRequest
    sample_rate: int
    candidates: list[Candidate]
    making: Making
    elapsed: float


@dataclass(frozen=True)
class Separated:
    """The stems of cue `cue_id`, each as long as it and at its rate, and what split it."""
    job_id: str
    cue_id: int
    sample_rate: int
    stems: list[Stem]
    separator: str  # "demucs 4.1.0, htdemucs (adefossez/HTDemucs 0123abcd)"
    device: str
    elapsed: float


@dataclass(frozen=True)
class Error:
    job_id: str
    message: str  # one line the user can act on
    kind: str = "failed"  # bad_input | failed | crashed
    model: str | None = None  # a model to install first (ModelNotPresent)


@dataclass(frozen=True)
class Cancelled:
    job_id: str


@dataclass(frozen=True)
class Fatal:
    """The worker itself failed (e.g. out of memory while starting) and is exiting."""
    message: str


MESSAGES = {cls.__name__.lower(): cls for cls in
            (Generate, Separate, Cancel, Prepare, Shutdown, Ready, Progress, Preview, Result, Separated, Error,
              Cancelled, Fatal)}


def encode(message) -> dict:
    return {"v": VERSION, "type": type(message).__name__.lower(), **asdict(message)}


def decode(data: dict):
    """The message of `data` (a decoded JSON object), its parts typed as declared."""
    if not isinstance(data, dict) or data.get("v") != VERSION:
        version = data.get("v") if isinstance(data, dict) else None
        raise ProtocolError(f"unsupported message of protocol v{version} (want protocol v{VERSION}); "
                            f"the engine and this CueDeck are of different versions: {data!r:.200}")
    cls = MESSAGES.get(data.get("type"))
    if cls is None:
        raise ProtocolError(f"unknown message type {data.get('type')!r}")
    try:
        return _build(cls, data)
    except (TypeError, ValueError, AttributeError) as e:  # a field missing or of another shape
        raise ProtocolError(f"malformed {data['type']} message ({e}): {data!r:.200}") from None


def _build(cls, data: dict):
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data})


def _typed(hint, value):
    """`value` from JSON as `hint` declares it: dataclasses (also in lists or `| None`) built."""
    if value is None:
        return None
    if is_dataclass(hint):
        return _build(hint, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and args and is_dataclass(args[0]):
        return [_build(args[0], item) for item in value]
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        if len(parts) == 1:
            return _typed(parts[0], value)
    return value

