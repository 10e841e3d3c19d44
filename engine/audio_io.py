"""Audio files: written to a temporary name and renamed into place, so none is ever half there."""

import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from .staging import part_path

WAVE_FORMAT_IEEE_FLOAT = 3


def float_wav_bytes(audio: np.ndarray, sample_rate: int, chunks: bytes = b"") -> bytes:
    """A 32-bit float WAV of `audio` [channels, samples], with more `chunks` (e.g. a loop's).

    Written by hand rather than by libsndfile, whose float WAVs carry a PEAK chunk with a
    timestamp: the same audio must give the same bytes (and sha256) every time.
    """
    channels = audio.shape[0]
    data = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    frames = audio.shape[1]
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_IEEE_FLOAT, channels, sample_rate,
                      sample_rate * channels * 4, channels * 4, 32, 0)
    chunks = (riff_chunk(b"fmt ", fmt) + riff_chunk(b"fact", struct.pack("<I", frames)) + chunks
              + riff_chunk(b"data", data))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def riff_chunk(tag: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def write_atomic(path: Path, content) -> None:
    """Write `content` (bytes, or a function that writes into a binary file) to `path` via a
    temporary file and a rename."""
    path = Path(path)
    tmp = part_path(path)
    try:
        with open(tmp, "wb") as f:
            content(f) if callable(content) else f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_wav_atomic(path: Path, audio: np.ndarray, sample_rate: int, chunks: bytes = b"") -> str:
    """Float WAV keeps exactly what the model produced (it may exceed full scale).
    Returns the file's sha256."""
    content = float_wav_bytes(audio, sample_rate, chunks)
    write_atomic(path, content)
    return hashlib.sha256(content).hexdigest()
