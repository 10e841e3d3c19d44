"""A cue's audio, read only after its file is checked against the sha256 the library
recorded, so a truncated or overwritten file is reported by name instead of being played,
continued or exported as silence or noise."""

import hashlib
import io
from pathlib import Path

import numpy as np

from .errors import DamagedCue


def file_problem(path: Path, sha256: str, content: bytes | None = None) -> str | None:
    """None when the file at `path` is the one recorded (its sha256), else what is wrong."""
    if content is None:
        try:
            content = Path(path).read_bytes()
        except FileNotFoundError:
            return "missing"
        except OSError as e:
            return f"unreadable ({e.strerror})"
    if hashlib.sha256(content).hexdigest() != sha256:
        return f"changed since it was made ({len(content)} bytes, another sha256)"
    return None


def verified_bytes(cue) -> bytes:
    """The bytes of `cue`'s file, or DamagedCue naming the cue and what to do."""
    try:
        content = Path(cue.path).read_bytes()
    except FileNotFoundError:
        raise DamagedCue(f"cue {cue.id} ({cue.prompt[:40]!r}) has lost its file {cue.path}; "
                         "restore the file or delete the cue") from None
    except OSError as e:
        raise DamagedCue(f"cue {cue.id}'s file {cue.path} cannot be read ({e.strerror})") from None
    problem = file_problem(cue.path, cue.sha256, content)
    if problem:
        raise DamagedCue(f"cue {cue.id} ({cue.prompt[:40]!r}) is damaged: its file {Path(cue.path).name} "
                         f"has {problem}; restore it from a backup or delete the cue")
    return content


def read(cue) -> tuple[np.ndarray, int]:
    """`cue`'s audio [frames, channels] float32 and its sample rate, checked first."""
    import soundfile

    audio, rate = soundfile.read(io.BytesIO(verified_bytes(cue)), dtype="float32", always_2d=True)
    return audio, rate
