"""AAF for Pro Tools and Media Composer, which open AAF as a session (neither reads .otio):
the exported timeline as a composition with one sound track per stem and one clip per
stretch of sound at its place, each clip a source range of its stem (which already holds
the clips' trims, gains and fades), and a timecode track at the timeline's start.

The stems are linked by file name (the AAF sits beside them and the DAW finds them there)
or embedded in the AAF. Both for 16- and 24-bit WAV stems (AAF's PCM is integer, and Pro
Tools links WAV): other exports have no AAF."""

from pathlib import Path
from urllib.parse import quote

from . import timecode
from .errors import BadInput

MEDIA = ("linked", "embedded", "none")


def wanted(media: str, bits: str, fmt: str) -> bool:
    """Whether an export writes an AAF; refuses embedding what AAF cannot hold."""
    if media not in MEDIA:
        raise BadInput(f"the AAF's media is linked, embedded or none; got {media!r}")
    fits = fmt == "wav" and bits != "32f"
    if media == "embedded" and not fits:
        raise BadInput("an AAF embeds 16- or 24-bit WAV only; export --bits 24 --format wav, or --aaf linked")
    return media != "none" and fits


def write(path: Path, name: str, tracks: list[tuple[str, Path, list[tuple[int, int]]]], rate: int,
          start_timecode: str, frame_rate: str, media: str) -> None:
    """`tracks`: (track name, its stem file, the (first, end) samples of each stretch of sound)."""
    import aaf2

    fps = timecode.frame_rate(frame_rate)
    with aaf2.open(str(path), "w") as f:
        composition = f.create.CompositionMob(name)
        composition.usage = "Usage_TopLevel"
        f.content.mobs.append(composition)
        for track_name, stem, regions in tracks:
            master = f.create.MasterMob(track_name)
            f.content.mobs.append(master)
            source = master.import_audio_essence(str(stem), edit_rate=rate, offline=media == "linked")
            if media == "linked":
                locator = f.create.NetworkLocator()
                locator["URLString"].value = quote(stem.name)  # relative: beside the AAF
                source.segment.mob.descriptor["Locator"].append(locator)
            sequence = f.create.Sequence(media_kind="sound")
            cursor = 0
            for first, end in regions:
                if first > cursor:
                    sequence.components.append(f.create.Filler("sound", first - cursor))
                sequence.components.append(master.create_source_clip(source.slot_id, start=first, length=end - first))
                cursor = end
            slot = composition.create_timeline_slot(rate)
            slot.segment = sequence
            slot.name = track_name
        clock = composition.create_timeline_slot(fps.rate)
        clock.name = "TC1"
        clock.segment = f.create.Timecode(fps.nominal, fps.drop)
        clock.segment.start = timecode.frames(start_timecode, frame_rate)
