"""Proof that a cue is what it says: read an exported file's content credentials, find the
cues they name in the library, render each again from its recorded request, seed and model
on this computer, and compare the audio's sha256 (bit-identical on the CPU in fp32)."""

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import credentials, cue_audio, exchange, registry
from .cue import Cue
from .errors import BadInput, DamagedCue, NotFound
from .request import GenerationRequest

SAME, DIFFERS, CANNOT = "same", "differs", "cannot reproduce here"


@dataclass
class Report:
    verdict: str  # SAME, DIFFERS, CANNOT; for a file's credentials: "valid", "invalid" or "none"
    detail: str
    cue_id: int | None = None
    file: str | None = None

    def text(self) -> str:
        what = f"cue {self.cue_id}" if self.cue_id is not None else Path(self.file).name
        return f"{what}: {self.verdict}: {self.detail}"

    def to_dict(self) -> dict:
        return asdict(self)


def verify_file(library, engine, path: Path) -> list[Report]:
    """The file's credentials, then every cue they name."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(f"{path} is not a file; give an exported WAV or FLAC, or a cue ID")
    found = credentials.read(path)
    reports = [Report(found.state, found.text(), file=str(path))]
    if found.state == "valid":
        batches: dict = {}
        reports += [verify_cue(library, engine, record["cue"], batches) for record in found.provenance.get("cues", [])]
    return reports


def verify_library(library, engine) -> list[Report]:
    batches: dict = {}  # a batch is rendered once for all its cues
    return [verify_cue(library, engine, cue.id, batches) for cue in library.search(limit=None)]


def verify_cue(library, engine, cue_id: int, batches: dict | None = None) -> Report:
    """`batches`: the batches rendered so far, by request, for the next cues to share."""
    try:
        cue = library.get(cue_id)
    except NotFound:
        return Report(CANNOT, "no such cue in this library", cue_id)
    try:
        kept = cue_audio.read(cue)[0]
    except DamagedCue as e:
        return Report(DIFFERS, str(e), cue_id)
    request = request_of(cue)
    if isinstance(request, str):
        return Report(CANNOT, request, cue_id)
    batches = {} if batches is None else batches
    if request not in batches:
        batches[request] = exchange.render_again(engine, request)
    ours, theirs = _audio_sha256(batches[request][cue.batch_index].T), _audio_sha256(kept)
    if ours == theirs:
        return Report(SAME, f"rendered again with seed {cue.seed} (candidate {cue.batch_index + 1} of "
                            f"{cue.batch_size}): the same audio (sha256 {ours[:16]}…)", cue_id)
    return Report(DIFFERS, f"rendered again with seed {cue.seed} (candidate {cue.batch_index + 1} of "
                           f"{cue.batch_size}): sha256 {ours[:16]}… is not the library's {theirs[:16]}…", cue_id)


def request_of(cue: Cue) -> GenerationRequest | str:
    """The request that renders `cue` again, or why it cannot be rendered bit for bit here. Its
    whole batch: the decoder's last bits depend on the batch a candidate was made in."""
    if cue.role:
        return f"a stem split from cue {cue.parent_id}: verify that cue"
    if cue.parent_id is not None or cue.conditioning_sha256:
        return "started from other audio (a continuation or a melody), which is not kept bit for bit"
    if cue.precision not in (None, "fp32"):
        return f"made in {cue.precision}, which is not bit-exact; only fp32 cues can be compared"
    if cue.device not in (None, "cpu"):
        return f"made on {cue.device}; this check renders on the CPU, whose last bits differ"
    if cue.model not in registry.MODELS:
        return f"model {cue.model} is unknown to this CueDeck"
    if not registry.get(cue.model).is_present():
        return f"model {cue.model} is not installed (`cuedeck models install {cue.model}`)"
    return GenerationRequest(
        cue.prompt, model=cue.model, candidates=cue.batch_size, duration=cue.duration, top_k=cue.top_k,
        top_p=cue.top_p, temperature=cue.temperature, cfg_coef=cue.cfg_coef, seed=cue.request_seed, device="cpu",
        precision="fp32",
        negative=cue.negative, bpm=cue.target_bpm, key=cue.target_key, loop=cue.loop,
        bars=cue.bars if cue.loop else None, beats_per_bar=cue.beats_per_bar or 4).validated()


def _audio_sha256(audio: np.ndarray) -> str:
    """Of the samples [frames, channels] as little-endian float32: what the file holds."""
    return hashlib.sha256(np.ascontiguousarray(audio, "<f4").tobytes()).hexdigest()
