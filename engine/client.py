"""EngineClient: starts the worker process and talks to it. Qt-free and torch-free, so the
CLI and the desktop share it; `poll` never blocks longer than asked.

If the worker dies (killed, out of memory) every job it held ends with an Error event of
kind "crashed", and the next submit starts a fresh worker.
"""

import json
import logging
import os
import select
import subprocess
import time

from . import exchange, paths, processes, registry
from . import protocol as p
from .errors import BadInput, Cancelled, CueDeckError, GenerationFailed, ModelNotPresent
from .request import GenerationRequest

CANCEL_DEADLINE = 10.0  # seconds a worker gets to confirm a cancel before it is stopped
log = logging.getLogger(__name__)


class EngineClient:
    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._buffer = b""
        self._jobs: list[str] = []  # submitted, not yet finished, in order
        self._fatal: str | None = None  # why the worker said it is exiting

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def submit(self, request: GenerationRequest, conditioning: p.Conditioning | None = None,
               job_id: str | None = None) -> str:
        """Validate (raising BadInput at once) and queue the request; returns its job id.
        A continuation or melody job needs its `conditioning`, staged in the folder of
        `job_id` (engine.exchange) by the library's owner. The job's results are that owner's
        to keep (exchange.keep) and its folder to discard, however the job ends."""
        request = request.validated()
        registry.require_present(registry.get(request.model))
        job_id = job_id or exchange.new_job_id()
        folder = exchange.open_job(job_id)
        self.start()
        self._jobs.append(job_id)
        self._send(p.Generate(job_id, request, folder, conditioning))
        return job_id

    def prepare(self, request: GenerationRequest) -> None:
        """Start the worker and have it load `request`'s model and decoder ahead of the job
        (p.Prepare; only the model, device and precision count: the prompt may not be typed
        yet). A model that is not here is left for the job to report."""
        self.start()
        try:
            present = registry.get(request.model).is_present()
        except CueDeckError:
            return
        if present:
            self._send(p.Prepare(request))

    def submit_split(self, cue_id: int, whole: p.Conditioning, job_id: str) -> str:
        """Queue splitting cue `cue_id` into stems, from its whole audio staged in the folder
        of `job_id` (exchange.stage_whole); its stems are the library owner's to keep
        (exchange.keep_stems)."""
        self.start()
        self._jobs.append(job_id)
        self._send(p.Separate(job_id, cue_id, exchange.job_folder(job_id).name, whole))
        return job_id

    def cancel(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._send(p.Cancel(job_id))

    def poll(self, timeout: float = 0.0) -> list:
        """Events that arrived, waiting up to `timeout` seconds for the first one."""
        if self._proc is None:
            return []
        fd = self._proc.stdout.fileno()
        died = False
        while select.select([fd], [], [], timeout)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                died = True
                break
            self._buffer += chunk
            timeout = 0
        *lines, self._buffer = self._buffer.split(b"\n")
        events = []
        for line in filter(bytes.strip, lines):
            try:
                event = p.decode(json.loads(line))
            except (ValueError, p.ProtocolError) as e:  # not from a worker of this version
                log.error("ignoring a malformed event from the engine: %s", e)
                continue
            if isinstance(event, p.Fatal):
                self._fatal = event.message
            else:
                events.append(event)
        for event in events:
            if isinstance(event, (p.Result, p.Separated, p.Error, p.Cancelled)) and event.job_id in self._jobs:
                self._jobs.remove(event.job_id)
        if died:
            events += self._worker_died()
        return events

    def run(self, request: GenerationRequest, on_progress=lambda progress: None,
            conditioning: p.Conditioning | None = None, job_id: str | None = None) -> p.Result:
        """Submit and wait (for the CLI). On KeyboardInterrupt the job is cancelled; a second
        one, or a worker that does not confirm within CANCEL_DEADLINE, stops the worker.
        Either way Cancelled is raised and nothing of the job is kept."""
        return self._wait(self.submit(request, conditioning, job_id), on_progress)

    def run_split(self, cue_id: int, whole: p.Conditioning, job_id: str,
                  on_progress=lambda progress: None) -> p.Separated:
        """Split and wait (for the CLI), as `run`."""
        return self._wait(self.submit_split(cue_id, whole, job_id), on_progress)

    def _wait(self, job_id: str, on_progress):
        interrupted = False
        deadline = None
        while True:
            try:
                events = self.poll(0.2)
            except KeyboardInterrupt:
                if interrupted:
                    self.kill()
                    raise Cancelled("cancelled; the engine was stopped and nothing was written") from None
                self.cancel(job_id)
                interrupted, deadline = True, time.monotonic() + CANCEL_DEADLINE
                continue
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                raise Cancelled("cancelled; the engine did not answer, so it was stopped; nothing was written")
            for event in events:
                if getattr(event, "job_id", None) != job_id:
                    continue
                if isinstance(event, p.Progress):
                    on_progress(event)
                elif isinstance(event, (p.Result, p.Separated)):
                    return event
                elif isinstance(event, p.Cancelled):
                    raise Cancelled("cancelled; nothing was written")
                elif isinstance(event, p.Error):
                    if interrupted:
                        raise Cancelled("cancelled; nothing was written")
                    if event.model:
                        raise ModelNotPresent(event.message, event.model)
                    raise (BadInput if event.kind == "bad_input" else GenerationFailed)(event.message)

    def kill(self) -> None:
        """Stop the worker at once (even a stopped one); its jobs end, nothing is kept."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._jobs.clear()

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is queued, ask the worker to finish, then make sure it is gone."""
        if self._proc is None:
            return
        for job_id in self._jobs:
            self._send(p.Cancel(job_id))
        proc, self._proc = self._proc, None
        try:
            proc.stdin.close()  # end of requests: the worker exits after its current job
        except OSError:
            pass
        if not self._jobs:
            proc.terminate()  # idle (perhaps still loading torch): nothing to finish
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        self._jobs.clear()

    def __enter__(self) -> "EngineClient":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        # Leaving on an error or a signal: stop the worker at once rather than wait for it
        # (a kill at any moment loses nothing but the job).
        self.kill() if exc_type else self.close()

    def start(self) -> None:
        """Start the worker now if it is not running (it takes seconds to load torch)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = None
        log_dir = paths.log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "worker.log", "ab") as worker_log:
            self._proc = subprocess.Popen(
                processes.command("engine.worker"), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=worker_log, bufsize=0,
                env={**os.environ, "CUEDECK_CLIENT_PID": str(os.getpid())},
                start_new_session=True)  # Ctrl+C in a terminal reaches us, not the worker
        self._buffer = b""
        self._fatal = None

    def _send(self, message) -> None:
        try:
            self._proc.stdin.write(json.dumps(p.encode(message)).encode() + b"\n")
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; poll() reports it

    def _worker_died(self) -> list:
        proc, self._proc = self._proc, None
        code = proc.wait()
        proc.stdout.close()
        proc.stdin.close()
        if self._fatal:
            why = f"it failed: {self._fatal}"
        elif code < 0:
            why = "it was killed" + (", perhaps for lack of memory" if code == -9 else "")
        else:
            why = f"exit status {code}; see {paths.log_dir() / 'worker.log'}"
        events = [p.Error(job, f"the engine stopped unexpectedly ({why}); nothing of this job "
                               "was kept and the next job starts a fresh engine", "crashed")
                  for job in self._jobs]
        self._jobs.clear()
        return events
