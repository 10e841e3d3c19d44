"""The worker's message protocol: small typed messages, encoded as plain JSON-able dicts.

Transport-neutral on purpose: today they travel over a multiprocessing pipe, later the same
dicts can cross a socket to a GPU box. Every message carries the protocol version.
"""

from dataclasses import asdict, dataclass, field, fields

from .errors import ProtocolError  # also p.ProtocolError, for the client and the worker

VERSION = 3  # 2: Fatal; 3: Progress carries the fraction of the whole job


# -- requests (client → worker) ------------------------------------------------------------

@dataclass(frozen=True)
class Generate:
    job_id: str
    request: dict  # GenerationRequest.to_dict()


@dataclass(frozen=True)
class Cancel:
    job_id: str


@dataclass(frozen=True)
class Shutdown:
    pass


# -- events (worker → client) --------------------------------------------------------------

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
    """The first `seconds` of every candidate, while the job still runs: raw little-endian
    float32 frames (channels interleaved) in `files`, one per candidate, in batch order."""
    job_id: str
    seconds: float
    sample_rate: int
    channels: int
    files: list


@dataclass(frozen=True)
class Result:
    job_id: str
    cues: list  # Cue.to_dict() of each candidate, in batch order
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
            (Generate, Cancel, Shutdown, Ready, Progress, Preview, Result, Error, Cancelled, Fatal)}


def encode(message) -> dict:
    return {"v": VERSION, "type": type(message).__name__.lower(), **asdict(message)}


def decode(data: dict):
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise ProtocolError(f"unsupported message (want protocol v{VERSION}): {data!r:.200}")
    cls = MESSAGES.get(data.get("type"))
    if cls is None:
        raise ProtocolError(f"unknown message type {data.get('type')!r}")
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as e:  # a field missing
        raise ProtocolError(f"malformed {data['type']} message ({e}): {data!r:.200}") from None
