"""Cues to MIDI: the notes of a cue or a stem, as a standard MIDI file a DAW places on its grid.

Spotify's Basic Pitch (Apache-2.0) finds the notes, with the trained model that ships inside
its registry package, run by onnxruntime (its TensorFlow path is never installed). We run its
windows ourselves, for progress and cancel, then its own note picking. The file's tempo is the
cue's (measured or asked for), so bars and beats line up in the DAW.
"""

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import processes, resources
from .errors import Cancelled, CueDeckError

ONSET_THRESHOLD, FRAME_THRESHOLD = 0.5, 0.3  # Basic Pitch's own defaults
MIN_NOTE_FRAMES = 11  # its default shortest note: 127.7 ms at 86 frames per second
OVERLAP_FRAMES = 30  # model frames shared by neighbouring windows (its own choice)
DEFAULT_BPM = 120.0  # MIDI's own default, for cues with no beat


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    pitch: int  # MIDI note number: 60 is middle C
    velocity: int  # 1–127


def transcribe(audio: np.ndarray, sample_rate: int, on_progress=lambda fraction: None,
               should_cancel=lambda: False) -> list[Note]:
    """The notes in `audio` [channels, samples], in time order. Raises Cancelled when asked."""
    from scipy.signal import resample_poly

    inference, note_creation, constants, model_path = _basic_pitch()
    rate, window, hop = constants.AUDIO_SAMPLE_RATE, constants.AUDIO_N_SAMPLES, constants.FFT_HOP
    mono = np.asarray(audio, dtype=np.float32).mean(axis=0)
    if not np.isfinite(mono).all():
        raise CueDeckError("this audio holds NaN or infinite samples: nothing to transcribe")
    g = np.gcd(int(sample_rate), rate)
    mono = resample_poly(mono, rate // g, int(sample_rate) // g).astype(np.float32)
    overlap = OVERLAP_FRAMES * hop
    step = window - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), mono])
    starts = range(0, max(1, padded.size), step)
    model = inference.Model(model_path)
    outputs: dict[str, list] = {"note": [], "onset": [], "contour": []}
    for i, start in enumerate(starts):
        if should_cancel():
            raise Cancelled("transcription cancelled")
        chunk = padded[start:start + window]
        chunk = np.pad(chunk, (0, window - chunk.size))[None, :, None]
        for name, value in model.predict(chunk).items():
            outputs[name].append(value)
        on_progress((i + 1) / len(starts))
    unwrapped = {name: inference.unwrap_output(np.concatenate(parts), mono.size, OVERLAP_FRAMES)
                 for name, parts in outputs.items()}
    _, events = note_creation.model_output_to_notes(
        unwrapped, onset_thresh=ONSET_THRESHOLD, frame_thresh=FRAME_THRESHOLD, min_note_len=MIN_NOTE_FRAMES,
        include_pitch_bends=False, melodia_trick=True)
    notes = [Note(round(float(s), 4), round(float(e), 4), int(p), max(1, min(127, round(127 * float(a)))))
             for s, e, p, a, _ in events]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def transcribe_cue(cue, on_progress=lambda fraction: None, should_cancel=lambda: False) -> Path:
    """`cue`'s MIDI file (engine.cue.Cue.midi_path), made once: its audio (checked against its
    sha256) transcribed, at its tempo, the track named after it."""
    from . import cue_audio

    if cue.midi_path.is_file():
        on_progress(1.0)
        return cue.midi_path
    audio, rate = cue_audio.read(cue)
    notes = transcribe(audio.T, rate, on_progress, should_cancel)
    return write_midi(notes, cue.midi_path, cue.tempo, f"cue {cue.id}: {cue.prompt[:60]}")


def write_midi(notes: list[Note], path: Path, bpm: float | None, name: str) -> Path:
    """A type-1 MIDI file at `bpm` (120 where the cue has no beat), one track named `name`;
    written whole or not at all."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm or DEFAULT_BPM)
    track = pretty_midi.Instrument(program=0, name=name)
    track.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    midi.instruments.append(track)
    path = Path(path)
    part = path.with_name(f".{path.name}.part")
    try:
        midi.write(str(part))
        os.replace(part, path)
    except OSError as e:
        raise resources.write_failed(e, path.parent, "writing the MIDI file") from None
    finally:
        part.unlink(missing_ok=True)
    return path


def note_name(pitch: int) -> str:
    """60 → "C4" (middle C), as most DAWs name notes."""
    from .analysis import NOTES

    return f"{NOTES[pitch % 12]}{pitch // 12 - 1}"


def read_midi(path: Path) -> list[Note]:
    """The notes of a MIDI file (every track), in time order: for the piano-roll strip."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    notes = [Note(round(n.start, 4), round(n.end, 4), n.pitch, n.velocity)
             for track in midi.instruments for n in track.notes]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def _basic_pitch():
    """Basic Pitch's inference, note and constants modules, and its ONNX model's path. At import
    it logs a warning for each backend it does not find (TensorFlow, CoreML, TFLite): noise
    here, where ONNX is the one we use. It imports librosa, whose cached kernels one process at
    a time may fill."""
    from .analysis import kernel_cache_lock

    logging.disable(logging.WARNING)
    try:
        with kernel_cache_lock(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its probing for TensorFlow and CoreML
            import basic_pitch
            from basic_pitch import constants, inference, note_creation
    except ImportError as e:
        raise CueDeckError(f"transcribing needs Basic Pitch ({e.name or e} is missing): run `make setup`") from None
    finally:
        logging.disable(logging.NOTSET)
    if not basic_pitch.ONNX_PRESENT:
        raise CueDeckError("transcribing needs onnxruntime: run `make setup`")
    return inference, note_creation, constants, basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix.onnx)


def transcribe_files(jobs: list[dict], on_progress=lambda fraction: None, should_cancel=lambda: False) -> None:
    """Each job's audio file {"audio", "midi", "bpm", "name"} transcribed into its MIDI file."""
    import soundfile

    for n, job in enumerate(jobs):
        audio, rate = soundfile.read(job["audio"], dtype="float32", always_2d=True)
        notes = transcribe(audio.T, rate, lambda f: on_progress((n + f) / len(jobs)), should_cancel)
        write_midi(notes, Path(job["midi"]), job["bpm"], job["name"])


def transcribe_files_apart(jobs: list[dict], on_progress=lambda fraction: None,
                           should_cancel=lambda: False) -> None:
    """transcribe_files in a child process: for exports from the window, whose process never
    loads onnxruntime or librosa. Cancelling kills the child (raises Cancelled)."""
    import json
    import subprocess

    with subprocess.Popen(processes.command("engine.transcription", "--files", json.dumps(jobs)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        error = None
        for line in child.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue  # a library's stray print
            if "progress" in message:
                on_progress(message["progress"])
            error = message.get("error", error)
            if should_cancel():
                child.kill()
                child.communicate()
                raise Cancelled("cancelled while transcribing")
        err = child.stderr.read()
    if child.returncode != 0:
        raise CueDeckError(error or f"transcribing failed: {(err.strip().splitlines() or ['no output'])[-1]}")


if __name__ == "__main__":  # the window's way: a child process, killed to cancel
    import json
    import sys

    def report(fraction: float) -> None:
        print(json.dumps({"progress": fraction}), flush=True)

    try:
        if sys.argv[1] == "--files":  # an export's stems
            transcribe_files(json.loads(sys.argv[2]), report)
        else:  # a cue, by id
            from .library import Library

            with Library() as library:
                cue = library.get(int(sys.argv[1]))
            transcribe_cue(cue, report)
    except CueDeckError as e:
        print(json.dumps({"error": str(e)}), flush=True)
        sys.exit(1)
