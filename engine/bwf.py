"""Exported audio files: Broadcast WAV (PCM 16/24-bit or 32-bit float) with a `bext` chunk
(EBU Tech 3285 v2) and an iXML chunk whose USER fields are the ones Soundminer reads; or
FLAC with the same facts as Vorbis comments."""

import io
import math
import struct
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np

from . import __version__, loudness
from .audio_io import WAVE_FORMAT_IEEE_FLOAT, riff_chunk, write_atomic

BITS = ("16", "24", "32f")
FORMATS = ("wav", "flac")
WAVE_FORMAT_PCM = 1
# SMPTE 330M basic UMID label: audio material (byte 11: 02h), material number by the UUID
# method and no instance method (byte 12: 20h)
UMID_LABEL = bytes.fromhex("060a2b34010101050101" "0220")
UNKNOWN_LOUDNESS = 0x7FFF  # bext v2: "not measured"
USER_FIELDS = ("CATID", "CATEGORY", "SUBCATEGORY", "FXNAME", "DESCRIPTION", "KEYWORDS",
               "NOTES", "RATING", "DESIGNER", "LIBRARY")


@dataclass
class Metadata:
    description: str                  # one line: what this file is and where it came from
    origination: datetime
    coding_history: list[str]         # EBU R98 lines, oldest first
    project: str = ""
    reference: str = ""               # bext OriginatorReference (32 ASCII characters)
    levels: loudness.Levels | None = None  # bext v2's five loudness fields
    user: dict[str, str] = field(default_factory=dict)  # iXML USER fields (USER_FIELDS)
    tracks: list[str] = field(default_factory=list)  # iXML TRACK_LIST: each channel's name
    time_reference: int = 0  # the first sample's count since midnight (the timeline's start timecode)
    chunks: bytes = b""  # more RIFF chunks for a WAV (a loop's smpl and acid)


PIECE = 1 << 16  # samples encoded at a time: a cache-sized piece is encoded, hashed and written while hot
PACKED_24 = np.dtype([("low", "<u2"), ("high", "u1")])  # a 24-bit sample's three bytes, packed


def encoded(audio: np.ndarray, bits: str) -> Iterator:
    """Interleaved little-endian samples of `audio` [frames, channels] (float, 1.0 = full
    scale), as bytes-like pieces in order. 16-bit gets TPDF dither (seeded, so the same mix
    gives the same bytes)."""
    samples = np.ascontiguousarray(audio, np.float32).reshape(-1)
    if bits == "32f":
        whole = memoryview(samples.astype("<f4", copy=False)).cast("B")
        yield from (whole[start:start + 4 * PIECE] for start in range(0, len(whole), 4 * PIECE))
        return
    scale = np.float32(2 ** (int(bits) - 1))
    if bits == "16":
        x = samples * scale
        rng = np.random.default_rng(0)
        x += rng.random(x.shape, np.float32) - rng.random(x.shape, np.float32)
        np.rint(x, out=x)
        np.clip(x, -scale, scale - 1, out=x)
        yield x.astype("<i2").view(np.uint8)
        return
    # 24-bit: the low three bytes of each rounded, clipped int32, copied as two and one bytes
    # (numpy copies a 3-byte element a byte at a time)
    scaled, whole = np.empty(PIECE, np.float32), np.empty(PIECE, "<i4")
    for start in range(0, samples.size, PIECE):
        n = min(PIECE, samples.size - start)
        x, ints, out = scaled[:n], whole[:n], np.empty(n, PACKED_24)
        np.multiply(samples[start:start + n], scale, out=x)
        np.rint(x, out=x)
        np.clip(x, -scale, scale - 1, out=x)
        ints[...] = x
        out["low"] = ints.view("<u2")[::2]
        out["high"] = ints.view(np.uint8)[2::4]
        yield out.view(np.uint8)


def wav_parts(audio: np.ndarray, rate: int, bits: str, meta: Metadata, trailer: int = 0) -> Iterator:
    """A WAV file's bytes in order, as bytes-like pieces (the samples as they are encoded);
    its RIFF size counts `trailer` bytes more, of a last chunk written after them."""
    channels = audio.shape[1]
    width = 4 if bits == "32f" else int(bits) // 8
    code = WAVE_FORMAT_IEEE_FLOAT if bits == "32f" else WAVE_FORMAT_PCM
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * channels * width, channels * width, width * 8)
    chunks = riff_chunk(b"fmt ", fmt + (struct.pack("<H", 0) if code == WAVE_FORMAT_IEEE_FLOAT else b""))
    if code == WAVE_FORMAT_IEEE_FLOAT:
        chunks += riff_chunk(b"fact", struct.pack("<I", audio.shape[0]))
    chunks += riff_chunk(b"bext", _bext(meta)) + riff_chunk(b"iXML", _ixml(meta)) + meta.chunks
    data = audio.size * width
    pad = b"\0" if data % 2 else b""
    size = 4 + len(chunks) + 8 + data + len(pad) + trailer
    yield b"RIFF" + struct.pack("<I", size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data)
    yield from encoded(audio, bits)
    yield pad


def write(path: Path, audio: np.ndarray, rate: int, bits: str, fmt: str, meta: Metadata, sign=None) -> None:
    """Write `audio` [frames, channels] atomically as WAV or FLAC with its metadata, with
    content credentials if `sign` (a credentials.Signing) is given."""
    if fmt == "wav":
        parts = partial(wav_parts, audio, rate, bits, meta)
        write_atomic(path, lambda file: file.writelines(parts()) if sign is None else sign.wav(parts, file))
        return
    import soundfile

    comments = {
        "title": meta.user.get("FXNAME"), "comment": meta.description, "album": meta.project,
        "genre": " / ".join(filter(None, (meta.user.get("CATEGORY"), meta.user.get("SUBCATEGORY")))),
        "software": f"CueDeck {__version__}", "date": meta.origination.strftime("%Y-%m-%d"),
    }
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate, audio.shape[1], f"PCM_{bits}", format="FLAC") as f:
        for key, value in comments.items():
            if value:  # libsndfile refuses empty strings
                setattr(f, key, value)
        f.write(audio)
    content = buffer.getvalue()
    write_atomic(path, content if sign is None else lambda file: sign.stream(content, fmt, file))


def channel_names(label: str, channels: int) -> list[str]:
    """iXML track names of a file's channels: "drums", or "drums L" and "drums R"."""
    return [label] if channels == 1 else [f"{label} {side}" for side in "LR"] if channels == 2 else \
        [f"{label} {n + 1}" for n in range(channels)]


def coding_line(rate: int, bits: str, channels: int, text: str) -> str:
    """One EBU R98 coding history line."""
    width = "32" if bits == "32f" else bits
    kind = "PCM" if bits != "32f" else "PCM;float"
    return f"A={kind},F={rate},W={width},M={'mono' if channels == 1 else 'stereo'},T={text}"


def _ascii(text: str) -> bytes:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore")


def umid() -> bytes:
    """A new SMPTE 330M basic UMID (32 bytes): the universal label for audio material whose
    material number is a random UUID, length 13h, instance 0, then that UUID."""
    return UMID_LABEL + b"\x13" + b"\x00\x00\x00" + uuid.uuid4().bytes


def _bext(meta: Metadata) -> bytes:
    levels = meta.levels
    loudness_fields = [UNKNOWN_LOUDNESS] * 5 if levels is None else [  # hundredths: LUFS, LU, dBTP
        _hundredths(v) for v in (levels.integrated, levels.range_lu, levels.true_peak_db,
                                 levels.max_momentary, levels.max_short_term)]
    history = "".join(f"{line}\r\n" for line in meta.coding_history)
    return struct.pack(
        "<256s32s32s10s8sQH64s5h180s",
        _ascii(meta.description)[:256], b"CueDeck", _ascii(meta.reference)[:32],
        meta.origination.strftime("%Y-%m-%d").encode(), meta.origination.strftime("%H:%M:%S").encode(),
        meta.time_reference, 2, umid(), *loudness_fields, b"",
    ) + _ascii(history)


def _hundredths(value: float | None) -> int:
    if value is None or not math.isfinite(value):
        return UNKNOWN_LOUDNESS
    return max(-32768, min(32766, round(value * 100)))


def _ixml(meta: Metadata) -> bytes:
    root = ET.Element("BWFXML")
    ET.SubElement(root, "IXML_VERSION").text = "2.10"
    ET.SubElement(root, "PROJECT").text = meta.project
    ET.SubElement(root, "NOTE").text = meta.description
    if meta.tracks:
        listed = ET.SubElement(root, "TRACK_LIST")
        ET.SubElement(listed, "TRACK_COUNT").text = str(len(meta.tracks))
        for index, name in enumerate(meta.tracks, start=1):
            track = ET.SubElement(listed, "TRACK")
            ET.SubElement(track, "CHANNEL_INDEX").text = str(index)
            ET.SubElement(track, "INTERLEAVE_INDEX").text = str(index)
            ET.SubElement(track, "NAME").text = name
    user = ET.SubElement(root, "USER")
    for name in USER_FIELDS:
        ET.SubElement(user, name).text = meta.user.get(name, "")
    ET.SubElement(user, "EMBEDDER").text = f"CueDeck {__version__}"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
