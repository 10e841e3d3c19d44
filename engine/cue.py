"""A cue: one generated candidate as the library keeps it, with every fact of its making.
Its own module, so code that only reads cues (mixdown, export, the window) does not depend
on the SQLite library."""

from dataclasses import asdict, dataclass
from pathlib import Path

from . import analysis
from .analysis import Measures


@dataclass(frozen=True)
class Cue:
    id: int
    path: Path  # absolute
    prompt: str
    negative: str  # what guidance steered away from ('' for none)
    model: str
    licence: str
    audiocraft_version: str
    cuedeck_version: str
    duration: float
    sample_rate: int
    channels: int
    top_k: int
    top_p: float
    temperature: float
    cfg_coef: float
    seed: int
    request_seed: int
    batch_size: int
    batch_index: int
    job_id: str
    sha256: str
    loudness_lufs: float | None
    peak: float
    conditioning_sha256: str | None
    conditioning_source: str | None
    device: str | None  # where it was generated (cpu, cuda, mps); None for cues made before 0.x
    precision: str | None  # of CueDeck's decoder: fp32 (exact), bf16 or int8
    place: str | None  # where it ran when not on this computer: "Ray cluster ADDRESS, node …"
    parent_id: int | None
    created_at: str
    rating: int
    catid: str | None
    notes: str
    keep: bool
    tags: tuple[str, ...]
    target_bpm: float | None = None  # the tempo and key the request asked for (a loop's tempo)
    target_key: str | None = None
    loop: bool = False  # a seamless loop: its file carries smpl (and acid) chunks
    bars: int | None = None  # a loop's bars of beats_per_bar beats at target_bpm
    beats_per_bar: int | None = None
    measures: Measures | None = None  # None until measured (engine.analysis)
    role: str | None = None  # a stem's instrument (registry.STEM_ROLES); its parent is the cue it was split from
    separator: str | None = None  # what split it: "demucs 4.1.0, htdemucs (adefossez/HTDemucs 0123abcd)"

    @property
    def midi_path(self) -> Path:
        """Where its transcription (engine.transcription) is kept, beside its audio."""
        return self.path.with_suffix(".mid")

    @property
    def tempo(self) -> float | None:
        """The tempo it was asked for (a loop's is exact), else the measured one."""
        return self.target_bpm or (self.measures.bpm if self.measures else None)

    def to_dict(self) -> dict:
        """Every field, the measures among them (None until measured)."""
        d = asdict(self)
        d["path"] = str(self.path)
        d["tags"] = list(self.tags)
        measured = d.pop("measures") or {}
        d.update({name: measured.get(name) for name in Measures.__dataclass_fields__})
        return d


# The provenance of a cue, in the two forms it is shown: one line for the metadata inside an
# exported file, several lines for the window (tooltips, the Details panel).

def loop_text(cue: Cue) -> str:
    """"loop of 4 bars of 4/4 at 120 BPM", "loop of 8.00 s", or '' for a cue that is not one."""
    if not cue.loop:
        return ""
    if cue.bars:
        return f"loop of {cue.bars} bars of {cue.beats_per_bar}/4 at {cue.target_bpm:g} BPM"
    return f"loop of {cue.duration:.2f} s"


def stem_text(cue: Cue) -> str:
    """"drums stem of cue 12" ('' for a cue that is not a stem)."""
    return f"{cue.role} stem of {split_from(cue)}" if cue.role else ""


def split_from(cue: Cue) -> str:
    """The cue a stem was split from, in words: "cue 12", or "a cue since deleted"."""
    return f"cue {cue.parent_id}" if cue.parent_id else "a cue since deleted"


def provenance_line(cue: Cue) -> str:
    """For file metadata (BWF description, iXML notes)."""
    negative = f" | not: {cue.negative}" if cue.negative else ""
    loop = f" | {loop_text(cue)}" if cue.loop else ""
    stem = f" | {stem_text(cue)}, split by {cue.separator}" if cue.role else ""
    return (f"{cue.prompt}{negative}{loop}{stem} | {cue.model}, weights {cue.licence} | seed {cue.seed}, top-k {cue.top_k}, "
            f"top-p {cue.top_p:g}, temperature {cue.temperature:g}, CFG {cue.cfg_coef:g} | "
            f"audiocraft {cue.audiocraft_version}, CueDeck {cue.cuedeck_version}, cue {cue.id}")


def provenance_text(cue: Cue) -> str:
    """For the window: every fact of the cue's making, a line each."""
    negative = f"Not: {cue.negative}\n" if cue.negative else ""
    return (f"{cue.prompt}\n{negative}\nModel: {cue.model}\nWeights licence: {cue.licence}\n"
            f"Seed: {cue.seed} (request seed {cue.request_seed}, candidate "
            f"{cue.batch_index + 1} of {cue.batch_size})\n"
            f"Top-k {cue.top_k}, top-p {cue.top_p:g}, temperature {cue.temperature:g}, "
            f"CFG {cue.cfg_coef:g}\n"
            + (f"The {stem_text(cue)}, split by {cue.separator}\n" if cue.role else
               f"Continues cue {cue.parent_id} ({cue.conditioning_source})\n" if cue.parent_id else "")
            + (f"Generated on {cue.device.upper()} in {cue.precision}"
               + (f", {cue.place}" if cue.place else "") + "\n" if cue.device else "")
            + (f"A seamless {loop_text(cue)}\n" if cue.loop else "")
            + (f"Ranked by {analysis.wanted(cue.target_bpm, cue.target_key)}\n"
               if cue.target_bpm or cue.target_key else "")
            + f"Measured: {analysis.summary(cue.measures)}\n"
            + f"{cue.duration:.2f} s, {cue.sample_rate} Hz, "
            f"{cue.channels} ch\nCreated {cue.created_at}\naudiocraft {cue.audiocraft_version}, "
            f"CueDeck {cue.cuedeck_version}\nsha256 {cue.sha256}\n{cue.path}")


def ranked(cues: list[Cue], bpm: float | None, key: str | None) -> list[Cue]:
    """`cues` closest to a wanted tempo and key first (unchanged when neither is wanted)."""
    return sorted(cues, key=lambda cue: analysis.closeness(cue.measures, bpm, key))
