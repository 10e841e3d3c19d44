"""SMPTE timecode: where a timeline starts on the picture's clock, so exported stems spot to
picture (bext TimeReference, the .otio start time).

A timecode is a count of frames at a nominal rate (24, 25 or 30 labels a second); the real
rate of 23.976 and 29.97 is 1000/1001 of it. Drop-frame (29.97 DF, written with ';') skips
labels 00 and 01 at the start of every minute except each tenth, so its labels keep up with
the wall clock.
"""

import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import BadInput


@dataclass(frozen=True)
class FrameRate:
    name: str       # as the user picks it: "29.97 DF"
    nominal: int    # frames a timecode second labels
    rate: Fraction  # frames per real second
    drop: bool = False


RATES = {r.name: r for r in [
    FrameRate("23.976", 24, Fraction(24000, 1001)), FrameRate("24", 24, Fraction(24)),
    FrameRate("25", 25, Fraction(25)), FrameRate("29.97 DF", 30, Fraction(30000, 1001), drop=True),
    FrameRate("29.97 NDF", 30, Fraction(30000, 1001)), FrameRate("30", 30, Fraction(30))]}
DEFAULT_RATE = "24"
ZERO = "00:00:00:00"
_PATTERN = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})[:;.](\d{2})$")


def frame_rate(name: str) -> FrameRate:
    try:
        return RATES[name]
    except KeyError:
        raise BadInput(f"the frame rate is one of {', '.join(RATES)}; got {name!r}") from None


def frames(timecode: str, rate_name: str) -> int:
    """The frame count of `timecode` ("01:00:00:00", drop-frame "00:01:00;02") at `rate_name`."""
    rate = frame_rate(rate_name)
    found = _PATTERN.match(timecode.strip())
    if not found:
        raise BadInput(f"a timecode is HH:MM:SS:FF (drop-frame HH:MM:SS;FF); got {timecode!r}")
    hh, mm, ss, ff = map(int, found.groups())
    if mm > 59 or ss > 59 or ff >= rate.nominal or hh > 23:
        raise BadInput(f"{timecode} is not a timecode at {rate.name} fps (frames 00–{rate.nominal - 1}, "
                       "seconds and minutes 00–59, hours 00–23)")
    if rate.drop and ss == 0 and ff < 2 and mm % 10:
        raise BadInput(f"{timecode} does not exist in drop-frame: the labels ;00 and ;01 are skipped "
                       "at every minute but each tenth")
    count = ((hh * 60 + mm) * 60 + ss) * rate.nominal + ff
    if rate.drop:
        minutes = hh * 60 + mm
        count -= 2 * (minutes - minutes // 10)
    return count


def label(count: int, rate_name: str) -> str:
    """The timecode of frame `count` since midnight (the inverse of `frames`)."""
    rate = frame_rate(rate_name)
    if rate.drop:  # put back the labels drop-frame skipped before this frame
        tens, rest = divmod(count, 17982)  # frames in ten minutes
        count += 18 * tens + (2 * ((rest - 2) // 1798) if rest > 2 else 0)
    n = rate.nominal
    return (f"{count // (n * 3600) % 24:02d}:{count // (n * 60) % 60:02d}:{count // n % 60:02d}"
            f"{';' if rate.drop else ':'}{count % n:02d}")


def at(start: str, rate_name: str, offset: float) -> str:
    """The timecode `offset` seconds after `start`, to the nearest frame."""
    return label(frames(start, rate_name) + int(offset * frame_rate(rate_name).rate + 0.5), rate_name)


def seconds(timecode: str, rate_name: str) -> Fraction:
    """Real seconds since midnight of `timecode` (exact)."""
    return frames(timecode, rate_name) / frame_rate(rate_name).rate


def samples_since_midnight(timecode: str, rate_name: str, sample_rate: int) -> int:
    """bext TimeReference: the first sample's count since midnight at `sample_rate`."""
    return round(seconds(timecode, rate_name) * sample_rate)


def checked(timecode: str, rate_name: str) -> str:
    """`timecode` written the usual way (drop-frame with ';'), after checking it."""
    frames(timecode, rate_name)
    hh, mm, ss, ff = _PATTERN.match(timecode.strip()).groups()
    last = ";" if frame_rate(rate_name).drop else ":"
    return f"{int(hh):02d}:{mm}:{ss}{last}{ff}"
