"""AAF for Pro Tools and Media Composer, which open AAF as a session (neither reads .otio):
the exported timeline as a composition with one sound track per stem and one clip per
stretch of sound at its place, each clip a source range of its stem (which already holds
the clips' trims, gains and fades), and a timecode track at the timeline's start.

The stems are linked by file name (the AAF sits beside them and the DAW finds them there)
or embedded in the AAF. Both for 16- and 24-bit WAV stems (AAF's PCM is integer, and Pro
Tools links WAV): other exports have no AAF."""

from datetime import datetime
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

from . import __version__, timecode
from .errors import BadInput

MEDIA = ("linked", "embedded", "none")
_EMPTY: bytes | None = None  # see _new_file


def wanted(media: str, bits: str, fmt: str) -> bool:
    """Whether an export writes an AAF; refuses embedding what AAF cannot hold."""
    if media not in MEDIA:
        raise BadInput(f"the AAF's media is linked, embedded or none; got {media!r}")
    fits = fmt == "wav" and bits != "32f"
    if media == "embedded" and not fits:
        raise BadInput("an AAF embeds 16- or 24-bit WAV only; export --bits 24 --format wav, or --aaf linked")
    return media != "none" and fits


def write(path: Path, name: str, tracks: list[tuple[str, Path, list[tuple[int, int]]]], rate: int, bits: str,
          channels: int, frames: int, start_timecode: str, frame_rate: str, media: str) -> None:
    """`tracks`: (track name, its stem file, the (first, end) samples of each stretch of sound).
    Linked, it needs only the stems' names (and can be written while they are); embedded,
    it reads them."""
    fps = timecode.frame_rate(frame_rate)
    with _new_file(Path(path)) as f:
        composition = f.create.CompositionMob(name)
        composition.usage = "Usage_TopLevel"
        f.content.mobs.append(composition)
        for track_name, stem, regions in tracks:
            master = f.create.MasterMob(track_name)
            f.content.mobs.append(master)
            if media == "embedded":
                slot = master.import_audio_essence(str(stem), edit_rate=rate)
            else:
                slot = _linked(f, master, stem, rate, int(bits), channels, frames)
            sequence = f.create.Sequence(media_kind="sound")
            cursor = 0
            for first, end in regions:
                if first > cursor:
                    sequence.components.append(f.create.Filler("sound", first - cursor))
                sequence.components.append(master.create_source_clip(slot.slot_id, start=first, length=end - first))
                cursor = end
            track = composition.create_timeline_slot(rate)
            track.segment = sequence
            track.name = track_name
        clock = composition.create_timeline_slot(fps.rate)
        clock.name = "TC1"
        clock.segment = f.create.Timecode(fps.nominal, fps.drop)
        clock.segment.start = timecode.frames(start_timecode, frame_rate)


def _new_file(path: Path):
    """A new, empty AAF at `path`, open for writing, that says CueDeck made it now. A copy of
    the first one this process made: pyaaf2 writes its whole class dictionary into a new file,
    which takes three times as long as opening a copy (and holds the GIL, which an export's
    other thread needs)."""
    import aaf2

    global _EMPTY
    if _EMPTY is None:
        with aaf2.open(str(path), "w"):
            pass
        _EMPTY = path.read_bytes()
    else:
        path.write_bytes(_EMPTY)
    f = aaf2.open(str(path), "rw")
    now = datetime.now()
    made = f.header["IdentificationList"].value[0]
    for key, value in (("ProductName", "CueDeck"), ("CompanyName", "CueDeck"), ("ProductVersionString", __version__),
                       ("Date", now), ("GenerationAUID", uuid4())):
        made[key].value = value
    f.header["LastModified"].value = now
    return f


def _linked(f, master, stem: Path, rate: int, bits: int, channels: int, frames: int):
    """A file source for `stem`, found by its name beside the AAF (what pyaaf2's
    import_audio_essence makes offline, from the facts we have rather than the file's header)."""
    source = f.create.SourceMob(f"{master.name}.PHYS")
    f.content.mobs.append(source)
    source_slot = source.create_empty_slot(rate, media_kind="sound", slot_id=1)
    source_slot.segment.length = frames
    descriptor = f.create.PCMDescriptor()
    width = bits // 8
    for key, value in (("Channels", channels), ("BlockAlign", channels * width), ("SampleRate", rate),
                       ("AverageBPS", rate * channels * width), ("QuantizationBits", bits),
                       ("AudioSamplingRate", rate)):
        descriptor[key].value = value
    descriptor.length = frames
    locator = f.create.NetworkLocator()
    locator["URLString"].value = quote(stem.name)  # relative: beside the AAF
    descriptor["Locator"].append(locator)
    source.descriptor = descriptor
    slot = master.create_timeline_slot(rate)
    slot.segment = source.create_source_clip(1, media_kind="sound")
    slot.segment.length = frames
    return slot
