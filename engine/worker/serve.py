"""The engine worker process: generates, reports progress, and hands each candidate's audio
and the facts of its making to its client (it never writes the library).

Started by EngineClient as `python -m engine.worker` (engine/worker/__main__.py). It speaks the protocol as JSON lines:
requests on stdin, events on stdout. Anything else that writes to stdout (a library's print)
is sent to stderr, which the client points at the worker log.
"""

import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import analysis, exchange, loops, paths, resources, staging
from .. import protocol as p
from ..errors import BadInput, Cancelled, CueDeckError

PROGRESS_INTERVAL = 0.05  # seconds between progress events; a new stage is always sent
SAVING = 0.95  # the job's progress when its candidates are handed over (then written)
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
        # Every core, at a lower priority: the window and the audio callback (and a DAW) are
        # served first whenever they need a core, and a job gets the rest. OpenMP's threads
        # spin up to about a millisecond between operations, then sleep: sleeping at once
        # made a job 1.9x slower, spinning without end slows a busy machine down many times
        # over (benchmarks/app_latency.py).
        os.environ.setdefault("GOMP_SPINCOUNT", "20000")
        if hasattr(os, "nice"):
            os.nice(5)
        from .generation import AUDIOCRAFT_VERSION, Generator, pick_device  # torch loads here, in the worker only
        from .separation import Separator

        import torch

        # (a cluster replica's worker gets its share of its node instead: engine.dispatcher)
        torch.set_num_threads(int(os.environ.get("CUEDECK_THREADS") or 0) or os.cpu_count() or 1)

        self._generator = Generator()
        self._separator = Separator(pick_device())
        staging.sweep(paths.models_dir())  # what killed workers left
        self._versions = {"audiocraft": AUDIOCRAFT_VERSION, "torch": torch.__version__}
        self.send(p.Ready(pid=os.getpid(), versions=self._versions))
        warm_up = threading.Thread(target=analysis.warm_up, daemon=True, name="cuedeck-analysis-warm-up")
        while True:
            message = self._inbox.get()
            if isinstance(message, p.Shutdown):
                return
            if isinstance(message, p.Prepare):
                try:
                    began = time.monotonic()
                    self._generator.prepare(message.request)
                    log.info("prepared %s (%s) in %.1f s", message.request.model, message.request.precision,
                             time.monotonic() - began)
                except Exception:  # the job that follows says it, in one line
                    log.warning("preparing %s failed:\n%s", message.request.model, traceback.format_exc())
            if warm_up.ident is None:  # not started yet
                # after the first Prepare, which it slowed by 0.5-0.9 s (two cores, one GIL), or with
                # the first job: the measures are needed once a job ends
                warm_up.start()
            if isinstance(message, (p.Generate, p.Separate)):
                self.send(self.answer(message))
                self._cancelled.discard(message.job_id)
            resources.give_back_memory()  # the weights a decoder replaced, what a job used

    def answer(self, job):
        """The last event of `job` (Generate or Separate): its result, Cancelled, or an Error
        the user can act on."""
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

        what = "splitting into stems" if isinstance(job, p.Separate) else "generation"
        try:
            if should_cancel():
                raise Cancelled("cancelled before it started")
            if isinstance(job, p.Separate):
                return self.separate(job, on_progress, should_cancel)
            return self.generate(job, on_progress, should_cancel)
        except Cancelled:
            return p.Cancelled(job_id)
        except CueDeckError as e:
            return p.Error(job_id, str(e), "bad_input" if isinstance(e, BadInput) else "failed",
                           getattr(e, "model", None))
        except OSError as e:
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            return p.Error(job_id, str(resources.write_failed(e, paths.library_dir(), what)))
        except MemoryError:
            return p.Error(job_id, "the engine ran out of memory; ask for fewer candidates, a shorter "
                                   "duration or a smaller model" if what == "generation" else
                                   "the engine ran out of memory splitting this cue; close other programs")
        except Exception as e:  # a bug or a library failure: keep serving, log the details
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            return p.Error(job_id, f"{what} failed: {type(e).__name__}: {e} (details in the worker log)")

    def generate(self, job: p.Generate, on_progress, should_cancel) -> p.Result:
        request = job.request.validated()
        folder = exchange.engine_folder(job.exchange)
        given = job.conditioning
        wanted = "prompt" if request.parent_id is not None else "melody" if request.melody is not None else None
        if (given.kind if given else None) != wanted:
            raise p.ProtocolError(f"the job's starting audio is {given.kind if given else 'none'} and its "
                                  f"request wants {wanted or 'none'}; its client must stage it")
        audio_in = exchange.read_conditioning(folder, given) if given else None
        previews = _Previews(job.job_id, folder, self.send)
        material = replace(request, duration=request.generated_seconds(), loop=False, bars=None)
        batch = self._generator.generate(
            material, on_progress, should_cancel,
            prompt_audio=audio_in if given and given.kind == "prompt" else None,
            melody=audio_in if given and given.kind == "melody" else None, on_audio=previews.add)
        self.send(p.Progress(job.job_id, SAVING, "saving"))
        audio = batch.audio
        if request.loop:  # cut each candidate's loop from its material, to the frame
            frames = round(request.duration * batch.sample_rate)
            audio = np.stack([loops.make_loop(a, batch.sample_rate, frames, request.bpm) for a in audio])
        candidates = exchange.stage_candidates(folder, audio, batch.seeds, batch.sample_rate)
        making = p.Making(request.model, batch.device, self._versions["audiocraft"], self._versions["torch"],
                          given.sha256 if given else None, given.source if given else None)
        request = replace(request, precision=batch.precision)  # what ran is what the cue records
        return p.Result(job.job_id, request, batch.sample_rate, candidates, making, batch.elapsed)

    def separate(self, job: p.Separate, on_progress, should_cancel) -> p.Separated:
        folder = exchange.engine_folder(job.exchange)
        if job.audio.kind != "whole":
            raise p.ProtocolError(f"a split needs the cue's whole audio, not its {job.audio.kind}")
        audio, rate = exchange.read_conditioning(folder, job.audio)
        on_progress(0.0, "splitting into stems")
        stems, elapsed = self._separator.separate(
            audio, rate, lambda fraction: on_progress(SAVING * fraction, "splitting into stems"), should_cancel)
        self.send(p.Progress(job.job_id, SAVING, "saving"))
        staged = exchange.stage_stems(folder, stems, rate)
        return p.Separated(job.job_id, job.cue_id, rate, staged, self._separator.version,
                           self._separator.device, elapsed)


class _Previews:
    """Streamed audio of a running job, appended to one file per candidate in the job's
    exchange folder (which its client removes with the job)."""

    def __init__(self, job_id: str, folder: Path, send):
        self.job_id, self.folder, self.send = job_id, folder, send

    def add(self, audio, start: float, rate: int) -> None:
        """audio [candidates, channels, samples] starting at `start` seconds."""
        files = [exchange.preview_file(i) for i in range(audio.shape[0])]
        for file, candidate in zip(files, audio):
            exchange.write_frames(self.folder / file, candidate, append=True)
        self.send(p.Preview(self.job_id, start + audio.shape[-1] / rate, rate, audio.shape[1], files))


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

