"""A cue's audio, read only after its file is checked against the sha256 the library
recorded, so a truncated or overwritten file is reported by name instead of being played,
continued or exported as silence or noise."""

import hashlib
import io
import os
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


# Files already checked in this process: path → (size, mtime_ns, sha256). A file whose size
# and modification time are unchanged is not hashed again (timeline playback re-reads cues).
_checked: dict[str, tuple[int, int, str]] = {}


def verified_bytes(cue) -> bytes:
    """The bytes of `cue`'s file, or DamagedCue naming the cue and what to do."""
    try:
        with open(cue.path, "rb") as f:
            stat = os.fstat(f.fileno())
            content = f.read()
    except FileNotFoundError:
        raise DamagedCue(f"cue {cue.id} ({cue.prompt[:40]!r}) has lost its file {cue.path}; "
                         "restore the file or delete the cue", cue.id) from None
    except OSError as e:
        raise DamagedCue(f"cue {cue.id}'s file {cue.path} cannot be read ({e.strerror})", cue.id) from None
    fingerprint = (stat.st_size, stat.st_mtime_ns, cue.sha256)
    if _checked.get(str(cue.path)) == fingerprint and len(content) == stat.st_size:
        return content
    problem = file_problem(cue.path, cue.sha256, content)
    if problem:
        raise DamagedCue(f"cue {cue.id} ({cue.prompt[:40]!r}) is damaged: its file {Path(cue.path).name} "
                         f"has {problem}; restore it from a backup or delete the cue", cue.id)
    _checked[str(cue.path)] = fingerprint
    return content


def read(cue) -> tuple[np.ndarray, int]:
    """`cue`'s audio [frames, channels] float32 and its sample rate, checked first."""
    import soundfile

    audio, rate = soundfile.read(io.BytesIO(verified_bytes(cue)), dtype="float32", always_2d=True)
    return audio, rate
