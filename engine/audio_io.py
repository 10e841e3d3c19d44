"""Audio files: written to a temporary name and renamed into place, so none is ever half there."""

import hashlib
import os
from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav_atomic(path: Path, audio: np.ndarray, sample_rate: int) -> str:
    """Write `audio` [channels, samples] as 32-bit float WAV at `path`; return its sha256.

    Float keeps exactly what the model produced (it may exceed full scale); exports convert.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            sf.write(f, np.ascontiguousarray(audio.T, dtype=np.float32), sample_rate,
                     format="WAV", subtype="FLOAT")
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
