"""The engine worker process: generates, writes files and library rows, reports progress.

Started by EngineClient as `python -m engine.worker` (engine/worker/__main__.py). It speaks the protocol as JSON lines:
requests on stdin, events on stdout. Anything else that writes to stdout (a library's print)
is sent to stderr, which the client points at the worker log.
"""

import json
import logging
import os
import queue
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .. import cue_audio, paths, resources, staging
from .. import protocol as p
from ..errors import BadInput, Cancelled, CueDeckError
from ..library import Library
from ..request import GenerationRequest
from . import conditioning

PROGRESS_INTERVAL = 0.05  # seconds between progress events; a new stage is always sent
SAVING = 0.95  # the job's progress when its files and rows are written
log = logging.getLogger("cuedeck.worker")


class Worker:
    def __init__(self, out):
        self._out = out
        self._inbox: queue.Queue = queue.Queue()
        self._cancelled: set[str] = set()
        self._client_gone = False

    def send(self, message) -> None:
        self._out.write(json.dumps(p.encode(message)).encode() + b"\n")

    def read_requests(self, stream) -> None:
        """Runs on its own thread so that a Cancel arrives while a job generates."""
        for line in stream:
            try:
                message = p.decode(json.loads(line))
            except (ValueError, p.ProtocolError) as e:
                log.error("ignoring a malformed request: %s", e)
                continue
            if isinstance(message, p.Cancel):
                self._cancelled.add(message.job_id)
            else:
                self._inbox.put(message)
        self._client_gone = True  # nobody waits for the job that runs: stop it at the next step
        self._inbox.put(p.Shutdown())

    def serve(self) -> None:
        # Leave a core to the UI and the audio callback, and let idle OpenMP threads sleep:
        # spinning threads on a busy machine slow generation down many times over.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if hasattr(os, "nice"):  # on a busy machine the window (and a DAW) are served first
            os.nice(5)
        from .generation import AUDIOCRAFT_VERSION, Generator  # torch loads here, in the worker only

        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))

        self._generator = Generator()
        try:
            Library().close()  # opening it sweeps what killed writers left behind
        except CueDeckError:
            pass  # an unusable library is reported on the first job that needs it
        for folder in (_previews_root(), paths.models_dir()):  # what killed workers left
            staging.sweep(folder)
        self._audiocraft_version = AUDIOCRAFT_VERSION
        self.send(p.Ready(pid=os.getpid(), versions={
            "audiocraft": AUDIOCRAFT_VERSION, "torch": torch.__version__}))
        while True:
            message = self._inbox.get()
            if isinstance(message, p.Shutdown):
                return
            if isinstance(message, p.Generate):
                self.send(self.run(message))
                self._cancelled.discard(message.job_id)

    def run(self, job: p.Generate):
        job_id = job.job_id
        last, stage_sent = 0.0, None

        def on_progress(fraction: float, stage: str) -> None:
            nonlocal last, stage_sent
            now = time.monotonic()
            if stage != stage_sent or now - last >= PROGRESS_INTERVAL:
                last, stage_sent = now, stage
                self.send(p.Progress(job_id, fraction, stage))

        def should_cancel() -> bool:
            return job_id in self._cancelled or self._client_gone

        previews = _Previews(job_id, self.send)
        try:
            if should_cancel():
                raise Cancelled("cancelled before it started")
            request = GenerationRequest.from_dict(job.request).validated()
            with Library() as library:
                prompt, melody, conditioning = None, None, None
                if request.parent_id is not None:
                    prompt, conditioning = _continuation_prompt(library, request)
                if request.melody is not None:
                    melody, conditioning = _melody(library, request.melody)
                batch = self._generator.generate(request, on_progress, should_cancel, prompt, melody,
                                                 on_audio=previews.add)
                self.send(p.Progress(job_id, SAVING, "saving"))
                cues = library.add_batch(request, batch.audio, batch.sample_rate, batch.seeds,
                                         job_id, self._audiocraft_version, conditioning)
            return p.Result(job_id, [c.to_dict() for c in cues], batch.elapsed)
        except Cancelled:
            return p.Cancelled(job_id)
        except CueDeckError as e:
            return p.Error(job_id, str(e), "bad_input" if isinstance(e, BadInput) else "failed",
                           getattr(e, "model", None))
        except OSError as e:
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            return p.Error(job_id, str(resources.write_failed(e, paths.data_dir(), "generating")))
        except MemoryError:
            return p.Error(job_id, "the engine ran out of memory; ask for fewer candidates, a shorter "
                                   "duration or a smaller model")
        except Exception as e:  # a bug or a library failure: keep serving, log the details
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            return p.Error(job_id, f"generation failed: {type(e).__name__}: {e} (details in the worker log)")
        finally:
            previews.remove()


class _Previews:
    """Streamed audio of a running job, appended to one file per candidate for the UI to
    audition, in a folder of this worker's own (`.JOB.PID.part`, so a killed worker's is swept)
    that goes with the job."""

    def __init__(self, job_id: str, send):
        self.job_id, self.send = job_id, send
        self.folder = staging.part_path(_previews_root() / job_id)
        self.seconds = 0.0

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, audio, start: float, rate: int) -> None:
        """audio [candidates, channels, samples] starting at `start` seconds."""
        self.folder.mkdir(parents=True, exist_ok=True)
        files = [self.folder / f"{self.job_id}-{i + 1}.f32" for i in range(audio.shape[0])]
        for file, candidate in zip(files, audio):
            with open(file, "ab") as f:
                f.write(candidate.T.astype("<f4").tobytes())
        self.seconds = start + audio.shape[-1] / rate
        self.send(p.Preview(self.job_id, self.seconds, rate, audio.shape[1], [str(f) for f in files]))


def _previews_root() -> Path:
    return paths.cache_dir() / "previews"


def _continuation_prompt(library: Library, request: GenerationRequest):
    """The end of the parent cue a continuation starts from, and its (sha256, source)."""
    try:
        parent = library.get(request.parent_id)
    except CueDeckError:
        raise BadInput(f"cue {request.parent_id} is no longer in the library; pick another cue to continue") from None
    cue_audio.verified_bytes(parent)
    samples, rate, digest = conditioning.load(parent.path, request.prompt_seconds,
                                              what=f"cue {parent.id}'s audio")
    return (samples, rate), (digest, f"cue {parent.id}, last {samples.shape[1] / rate:.2f} s")


def _melody(library: Library, melody: str):
    """A melody from a file or from a library cue ("cue:ID"), and its (sha256, source)."""
    if melody.startswith("cue:"):
        try:
            cue = library.get(int(melody[4:]))
        except (ValueError, CueDeckError):
            raise BadInput(f"{melody} is not a cue in the library; give cue:ID or an audio file") from None
        cue_audio.verified_bytes(cue)
        path, source = cue.path, f"melody: cue {cue.id}"
    else:
        path = Path(melody).expanduser()
        source = f"melody: {path.name}"
    samples, rate, digest = conditioning.load(path, what="the melody")
    return (samples, rate), (digest, source)


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the process that started it dies, even
    while it is stopped (SIGSTOP), so no orphan keeps a model in memory. (The signal
    follows the thread that started the worker: clients start it from their main thread.)"""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if str(os.getppid()) != os.environ.get("CUEDECK_CLIENT_PID", str(os.getppid())):
        os._exit(1)  # the client died before the line above took effect


def main() -> None:
    _die_with_parent()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s worker[%(process)d] %(levelname)s %(message)s")
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    worker = Worker(out)
    threading.Thread(target=worker.read_requests, args=(sys.stdin.buffer,), daemon=True,
                     name="cuedeck-requests").start()
    try:
        worker.serve()
    except BrokenPipeError:
        pass  # the client is gone; nobody is left to tell
    except BaseException as e:  # e.g. MemoryError importing torch: tell the client why
        log.error("the worker failed:\n%s", traceback.format_exc())
        why = f"{type(e).__name__}: {str(e)[:200]}".rstrip(": ")
        if isinstance(e, MemoryError) or "failed to map segment" in str(e):  # a memory limit
            why = f"out of memory ({why}); close other programs or raise the memory limit"
        try:
            worker.send(p.Fatal(why))
        except (OSError, MemoryError):
            pass
        logging.shutdown()
        os._exit(1)  # at once: the request thread still blocks on stdin

