"""A generation request and its validation (no torch: the UI validates before sending)."""

import math
import secrets
from dataclasses import asdict, dataclass, replace

from . import analysis, loops, registry
from .analysis import MAX_BPM, MIN_BPM
from .errors import BadInput

MAX_PROMPT_CHARS = 1000
MAX_CANDIDATES = 8
MIN_DURATION = 0.5
MAX_SEED = 2**32 - 1
MAX_TEMPERATURE = 10.0
MAX_CFG = 30.0
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "int8")  # CueDeck's decoder: exact, or faster (see engine.worker.fast_lm)


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    model: str = "tiny-music"
    candidates: int = 4
    duration: float = 8.0
    top_k: int = 250
    top_p: float = 0.0  # 0 = use top-k
    temperature: float = 1.0  # 0 = greedy decoding
    cfg_coef: float = 3.0
    seed: int | None = None  # None = pick one at random (and record it)
    parent_id: int | None = None  # continue this cue ("more like this")
    prompt_seconds: float | None = None  # how much of the parent's end to start from (None: up to 5 s)
    device: str = "auto"  # auto = CUDA, else Apple MPS, else CPU
    melody: str | None = None  # melody models: an audio file, or "cue:ID" for a library cue
    precision: str = "fp32"  # fp32 = the same tokens as audiocraft; bf16 or int8 = faster
    negative: str = ""  # what the cue should not be: guidance steers away from it
    bpm: float | None = None  # a tempo to rank the candidates by (how close each came); a loop's tempo
    key: str | None = None  # a key to rank the candidates by, "A minor"
    loop: bool = False  # each candidate a seamless loop of `duration` seconds, or of `bars` at `bpm`
    bars: int | None = None  # a loop's length in bars of `beats_per_bar` beats (needs bpm)
    beats_per_bar: int = 4

    def validated(self) -> "GenerationRequest":
        """Return the request with a seed filled in, or raise BadInput naming what is wrong."""
        prompt = _prompt_text("the prompt", self.prompt)
        if not prompt:
            raise BadInput("the prompt is empty; describe the cue, e.g. \"warm analog pad, slow swell\"")
        negative = _prompt_text("the negative prompt", self.negative)
        info = registry.get(self.model)
        _int_in("candidates", self.candidates, 1, MAX_CANDIDATES)
        _number_in("duration", self.duration, MIN_DURATION, info.longest,
                   f" seconds for {info.name}" + ("" if info.windows == 1 else
                                                   f" ({info.windows} windows of {info.max_duration:g} s)"))
        _int_in("top-k", self.top_k, 0, info.card, f" ({info.name} has {info.card} codes)")
        _number_in("top-p", self.top_p, 0.0, 1.0)
        _number_in("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        _number_in("cfg", self.cfg_coef, 0.0, MAX_CFG)
        if negative and self.cfg_coef == 1:
            raise BadInput("a negative prompt works through guidance, and cfg 1 turns guidance off; "
                           "raise cfg (3 is the default) or clear the negative prompt")
        if self.bpm is not None:
            _number_in("bpm", self.bpm, MIN_BPM, MAX_BPM)
        key = self.key
        if key is not None:
            try:
                key = analysis.parse_key(str(key))
            except ValueError as e:
                raise BadInput(str(e)) from None
        duration = self._loop_duration(info)
        if self.precision not in PRECISIONS:
            raise BadInput(f"precision is one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.device not in DEVICES:
            raise BadInput(f"device is one of {', '.join(DEVICES)}; got {self.device!r}")
        if self.melody is not None:
            if "melody" not in info.conditioning:
                melodic = ", ".join(n for n, m in registry.MODELS.items() if "melody" in m.conditioning and not m.tiny)
                raise BadInput(f"{info.name} does not take a melody; pick one that does ({melodic})")
            if self.parent_id is not None:
                raise BadInput("a continuation cannot also follow a melody; use one or the other")
            if not str(self.melody).strip():
                raise BadInput("the melody is empty; give an audio file or cue:ID")
        if self.parent_id is not None:
            if not info.can_continue:
                raise BadInput(f"{info.name} (MAGNeT) cannot continue a cue; pick a MusicGen or AudioGen model")
            _int_in("the cue to continue", self.parent_id, 1, 2**63 - 1)
            longest = min(self.duration - MIN_DURATION, info.max_duration - 1.0)
            prompt_seconds = min(5.0, self.duration / 2) if self.prompt_seconds is None else self.prompt_seconds
            _number_in("prompt seconds", prompt_seconds, MIN_DURATION, longest,
                       " (less than the duration, within one window)")
        else:
            prompt_seconds = self.prompt_seconds
        # Candidate i uses seed + i, and every seed must be one a request can ask for again.
        highest = MAX_SEED - (self.candidates - 1)
        seed = self.seed
        if seed is None:
            seed = secrets.randbelow(highest + 1)
        _int_in("seed", seed, 0, highest, f" with {self.candidates} candidates (candidate i uses seed + i)")
        return replace(self, prompt=prompt, negative=negative, seed=seed, duration=duration,
                       bpm=None if self.bpm is None else float(self.bpm), key=key,
                       top_p=float(self.top_p), temperature=float(self.temperature),
                       cfg_coef=float(self.cfg_coef), prompt_seconds=prompt_seconds)

    def _loop_duration(self, info) -> float:
        """The duration: a loop's `bars` at `bpm`, which with the overhang the engine generates
        past a loop's end must fit the model."""
        _int_in("beats per bar", self.beats_per_bar, 1, 16)
        if not self.loop:
            if self.bars is not None:
                raise BadInput("bars make a loop: ask for a loop too (--loop), or give a duration instead")
            return float(self.duration)
        if self.parent_id is not None:
            raise BadInput("a continuation cannot also be a loop (its start is the cue it continues); use one or the "
                           "other")
        duration = float(self.duration)
        if self.bars is not None:
            if self.bpm is None:
                raise BadInput("a loop of bars needs a tempo: give its BPM (--bpm 120), or a duration in seconds "
                               "instead")
            _int_in("bars", self.bars, 1, 64)
            duration = loops.length_seconds(self.bpm, self.bars, self.beats_per_bar)
        longest = info.longest - loops.overhang_seconds(self.bpm)
        if not MIN_DURATION <= duration <= longest:
            what = f"{self.bars} bars at {self.bpm:g} BPM" if self.bars else "its duration"
            raise BadInput(f"a loop of {what} is {duration:.2f} s; {info.name} loops last {MIN_DURATION:g} to "
                           f"{longest:.2f} s (it generates {loops.overhang_seconds(self.bpm):.2f} s past a loop's "
                           "end): change the bars, tempo or duration")
        return duration

    def generated_seconds(self) -> float:
        """What the model generates: a loop's length and its overhang."""
        return self.duration + (loops.overhang_seconds(self.bpm) if self.loop else 0.0)

    def candidate_seeds(self) -> list[int]:
        """Each candidate's own seed: the request's seed plus the candidate's index."""
        assert self.seed is not None, "validate the request first"
        return [self.seed + i for i in range(self.candidates)]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GenerationRequest":
        try:
            return cls(**data)
        except TypeError as e:
            raise BadInput(f"malformed generation request: {e}") from None


def _prompt_text(what: str, value) -> str:
    """A prompt's text, stripped ("" for none), or BadInput."""
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > MAX_PROMPT_CHARS:
        raise BadInput(f"{what} is {len(text)} characters long; keep it to {MAX_PROMPT_CHARS}")
    if "\x00" in text:
        raise BadInput(f"{what} contains a NUL character; remove it")
    return check_text(what, text)


def check_text(what: str, text: str) -> str:
    """Refuse text that is not valid Unicode (e.g. a non-UTF-8 command-line argument,
    which Python keeps as lone surrogates): it could not be stored or exported."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} is not valid UTF-8 text; retype it or fix the terminal's encoding") from None
    return text


def _int_in(name, value, low, high, unit=""):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadInput(f"{name} must be a whole number from {low} to {high}{unit}; got {value!r}")


def _number_in(name, value, low, high, unit=""):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise BadInput(f"{name} must be a number from {low:g} to {high:g}{unit}; got {value!r}")
