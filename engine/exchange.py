"""Audio between the library's owner and the engine, and the one place results become cues.

Each job has a folder in the library's `.exchange` folder, made by the client that owns the
library and named by the staging rule (`.JOB.PID.part`, PID the client's), so what a killed
client leaves is swept when the library opens next. The client puts the audio a job starts
from there (`conditioning.f32`); the engine writes the previews and the finished candidates
there (`preview-N.f32`, `candidate-N.f32`) and names them in its messages; the client keeps
the candidates as cues (`keep`) and removes the folder when the job ends, however it ends.
Audio is raw float32 frames, channels interleaved: what numpy writes and reads fastest.
"""

import shutil
import uuid
from pathlib import Path

import numpy as np

from . import analysis, conditioning, cue_audio, paths, registry
from . import protocol as p
from .cue import Cue
from .errors import BadInput, GenerationFailed, NotFound
from .request import GenerationRequest
from .staging import part_path

FOLDER = ".exchange"


def root() -> Path:
    return paths.library_dir() / FOLDER


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def job_folder(job_id: str) -> Path:
    """This process's folder for `job_id` (the client's side)."""
    return part_path(root() / job_id)


def open_job(job_id: str) -> str:
    """Make the job's folder; returns its name, for the engine (Generate.exchange)."""
    folder = job_folder(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder.name


def engine_folder(name: str) -> Path:
    """The engine's side: the folder a Generate names, which must exist (the engine never
    makes one: a job whose client is gone has nowhere to write)."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise p.ProtocolError(f"exchange folder {name!r} is not a plain folder name")
    folder = root() / name
    if not folder.is_dir():
        raise GenerationFailed("the job's exchange folder is gone (its client quit?); nothing was kept")
    return folder


def discard(job_id: str) -> None:
    shutil.rmtree(job_folder(job_id), ignore_errors=True)


def write_frames(path: Path, audio: np.ndarray, append: bool = False) -> None:
    """Audio [channels, samples] as interleaved float32 frames."""
    with open(path, "ab" if append else "wb") as f:
        f.write(np.ascontiguousarray(audio.T, dtype="<f4").tobytes())


def read_frames(path: Path, channels: int) -> np.ndarray:
    """Interleaved float32 frames as audio [channels, samples]."""
    return np.fromfile(path, dtype="<f4").reshape(-1, channels).T


# -- the library owner's side ----------------------------------------------------------------

def stage_conditioning(library, request: GenerationRequest, job_id: str) -> p.Conditioning | None:
    """Read, check and hash the audio `request` starts from (the end of the cue it continues,
    or its melody: a file or "cue:ID"), and put it in the job's folder. None for text alone."""
    if request.parent_id is not None:
        parent = _cue(library, request.parent_id,
                      f"cue {request.parent_id} is no longer in the library; pick another cue to continue")
        cue_audio.verified_bytes(parent)
        samples, rate, digest = conditioning.load(parent.path, request.prompt_seconds,
                                                  what=f"cue {parent.id}'s audio")
        kind, source = "prompt", f"cue {parent.id}, last {samples.shape[1] / rate:.2f} s"
    elif request.melody is not None:
        if request.melody.startswith("cue:"):
            cue = _cue(library, request.melody[4:],
                       f"{request.melody} is not a cue in the library; give cue:ID or an audio file")
            cue_audio.verified_bytes(cue)
            path, source = cue.path, f"melody: cue {cue.id}"
        else:
            path = Path(request.melody).expanduser()
            source = f"melody: {path.name}"
        samples, rate, digest = conditioning.load(path, what="the melody")
        kind = "melody"
    else:
        return None
    file = "conditioning.f32"
    write_frames(job_folder(job_id) / file, samples)
    return p.Conditioning(kind, file, rate, samples.shape[0], digest, source)


def stage_whole(library, cue_id: int, job_id: str) -> p.Conditioning:
    """Cue `cue_id`'s whole audio, checked, in the job's folder: what a split starts from."""
    cue = _cue(library, cue_id, f"cue {cue_id} is no longer in the library; pick another cue to split")
    cue_audio.verified_bytes(cue)
    samples, rate, digest = conditioning.load(cue.path, what=f"cue {cue.id}'s audio")
    file = "whole.f32"
    write_frames(job_folder(job_id) / file, samples)
    return p.Conditioning("whole", file, rate, samples.shape[0], digest, f"cue {cue.id}")


def _cue(library, cue_id, missing: str) -> Cue:
    try:
        return library.get(int(cue_id))
    except (ValueError, NotFound):
        raise BadInput(missing) from None


def generate(library, engine, request: GenerationRequest, on_progress=lambda progress: None) -> list[Cue]:
    """Generate with `engine` (an EngineClient) and keep the candidates in `library`, waiting
    for it: the CLI's way. (The desktop takes the same steps on its library thread.)"""
    return _run_job(lambda job_id: keep(
        library, engine.run(request, on_progress, stage_conditioning(library, request, job_id), job_id)))


def render_again(engine, request: GenerationRequest) -> list[np.ndarray]:
    """The audio [channels, samples] of each candidate of `request` (no conditioning), kept
    nowhere (engine.verify compares it with the cues')."""
    def run(job_id: str) -> list[np.ndarray]:
        result = engine.run(request, job_id=job_id)
        return [_staged(job_id, c.file, c.channels, c.frames, f"candidate {c.index + 1}") for c in result.candidates]
    return _run_job(run)


def stage_split(library, cue_id: int, job_id: str) -> list[Cue] | p.Conditioning:
    """What splitting cue `cue_id` starts from: the stems it was split into before, or its
    whole audio in the job's folder (raising ModelNotPresent without the separator)."""
    made = library.stems_of(library.get(cue_id).id)
    if made:
        return made
    registry.require_separator()
    open_job(job_id)
    return stage_whole(library, cue_id, job_id)


def split(library, engine, cue_id: int, on_progress=lambda progress: None) -> list[Cue]:
    """Split cue `cue_id` into stems with `engine` and keep them in `library`, waiting for it
    (the CLI's way); a cue split before gives the stems it has."""
    def run(job_id: str) -> list[Cue]:
        staged = stage_split(library, cue_id, job_id)
        if isinstance(staged, list):
            return staged
        return keep_stems(library, engine.run_split(cue_id, staged, job_id, on_progress))
    return _run_job(run)


def _run_job(run):
    """`run(job_id)` in a job folder of its own, gone afterwards however it ends."""
    job_id = new_job_id()
    try:
        open_job(job_id)
        return run(job_id)
    finally:
        discard(job_id)


def keep_stems(library, separated: p.Separated) -> list[Cue]:
    """The stems of `separated` as files and rows of `library`, children of their cue (all or
    none), then the job's folder goes."""
    try:
        audio = [_staged(separated.job_id, s.file, s.channels, s.frames, f"the {s.role} stem")
                 for s in separated.stems]
        return library.add_stems(library.get(separated.cue_id), [s.role for s in separated.stems],
                                 np.stack(audio), separated.sample_rate, separated.job_id,
                                 separated.separator, separated.device, [s.measures for s in separated.stems])
    except NotFound:
        raise BadInput(f"cue {separated.cue_id} was deleted while it was split; its stems were not kept") from None
    finally:
        discard(separated.job_id)


def _staged(job_id: str, file: str, channels: int, frames: int, what: str) -> np.ndarray:
    path = job_folder(job_id) / Path(file).name
    audio = read_frames(path, channels) if path.is_file() else None
    if audio is None or audio.shape[1] != frames:
        raise GenerationFailed(f"the engine's audio of {what} is incomplete; nothing of this job was kept: "
                               "try again")
    return audio


def keep(library, result: p.Result) -> list[Cue]:
    """The candidates of `result` as files and rows of `library` (one transaction, nothing
    kept if anything fails), then the job's folder goes."""
    try:
        audio = [_staged(result.job_id, c.file, c.channels, c.frames, f"candidate {c.index + 1}")
                 for c in result.candidates]
        making = result.making
        conditioned = (making.conditioning_sha256, making.conditioning_source) \
            if making.conditioning_sha256 else None
        return library.add_batch(result.request, np.stack(audio), result.sample_rate,
                                 [c.seed for c in result.candidates], result.job_id,
                                 making.audiocraft_version, conditioned, device=making.device,
                                 place=making.place, measures=[c.measures for c in result.candidates])
    finally:
        discard(result.job_id)


# -- the engine's side -------------------------------------------------------------------------

def read_conditioning(folder: Path, given: p.Conditioning) -> tuple[np.ndarray, int]:
    """(audio [channels, samples], rate) of a job's conditioning."""
    try:
        return read_frames(folder / Path(given.file).name, given.channels), given.sample_rate
    except (OSError, ValueError) as e:
        raise GenerationFailed(f"the job's {given.kind} audio could not be read ({e})") from None


def candidate_file(index: int) -> str:
    """The file of candidate `index` (from 0) in its job's folder."""
    return f"candidate-{index + 1}.f32"


def preview_file(index: int) -> str:
    """The file candidate `index`'s streamed audio grows in, while its job runs; once it
    ends, the candidate's file (which often holds the same bytes)."""
    return f"preview-{index + 1}.f32"


def stage_stems(folder: Path, stems: dict[str, np.ndarray], sample_rate: int) -> list[p.Stem]:
    """Each stem of `stems` {role: audio [channels, samples]} as a file of the job's folder,
    with its measures."""
    staged = []
    for role, audio in stems.items():
        file = f"stem-{role}.f32"
        write_frames(folder / file, audio)
        staged.append(p.Stem(role, file, audio.shape[1], audio.shape[0], analysis.measure(audio, sample_rate)))
    return staged


def stage_candidates(folder: Path, audio: np.ndarray, seeds: list[int], sample_rate: int) -> list[p.Candidate]:
    """Each candidate of `audio` [candidates, channels, samples] as a file of the job's folder,
    with its measures."""
    candidates = []
    for index, (samples, seed) in enumerate(zip(audio, seeds)):
        file = candidate_file(index)
        write_frames(folder / file, samples)
        candidates.append(p.Candidate(index, seed, file, samples.shape[1], samples.shape[0],
                                      analysis.measure(samples, sample_rate)))
    return candidates


