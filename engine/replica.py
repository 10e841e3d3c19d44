"""An engine replica on a Ray cluster node: the node's own worker process (the same
`python -m engine.worker` a desk runs, through EngineClient), with the job's audio carried
as bytes instead of files. Torch-free itself; engine.dispatcher runs it as a Ray actor.

Desks reach it through Ray Client, which has no streaming calls: a desk starts a job and
fetches its events (`events`, which waits for the next ones) until the last.

A replica runs one job (or one part of a job split over replicas) at a time, as the
dispatcher (engine.dispatcher) grants it, and keeps its worker (and the last model loaded)
between jobs. Its node keeps its own CUEDECK_HOME (models, and the job folders its worker
writes); it never has a library: the desk that asked keeps the results.
"""

import os
import queue
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

from . import exchange, registry, staging
from . import protocol as p
from .client import EngineClient
from .errors import BadInput, ModelNotPresent

POLL_SECONDS = 0.05
GATHER_SECONDS = 1.0  # how long `events` gathers a job's events before it answers: each answer is
# a round trip through Ray Client's two server processes, about 13 ms of the cluster's CPU (and
# at 0.25 s they took a tenth of what two replicas' workers took); the desk's progress and
# previews come once a second, its first audio and the job's end at once
ENDS = ("result", "error", "cancelled")  # the types of a job's last event
# A desk fetches its job's events at least every two seconds, and starts a job on a replica as soon
# as the dispatcher grants it: one silent this long is gone (Ray Client gives a lost connection
# 30 s to come back), and what it held goes back to the other desks.
SILENT_SECONDS = float(os.environ.get("CUEDECK_SILENT_DESK_SECONDS") or 90)


class Replica:
    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        os.environ["CUEDECK_THREADS"] = str(threads)  # for its worker
        staging.sweep(exchange.root())  # what a killed replica of this node left
        self._engine = EngineClient()
        self._cancelled: set[str] = set()
        self._running: str | None = None
        self._inbox: queue.Queue = queue.Queue()  # jobs to run, in order
        self._outbox: dict[str, queue.Queue] = {}  # job → its events, until the desk fetches the last
        self._streaming: set[str] = set()  # the jobs whose first audio the desk has
        self._heard: dict[str, float] = {}  # lease granted, or job started → when its desk last spoke
        self._leases: set[str] = set()  # of the jobs started here, until they end
        # One thread runs every job, one at a time: the worker it starts lives as long as that
        # thread (Linux kills a worker with the thread that started it: serve._die_with_parent).
        threading.Thread(target=self._serve, daemon=True, name="cuedeck-replica").start()
        threading.Thread(target=self._forget_silent_desks, daemon=True, name="cuedeck-silent-desks").start()

    def reserve(self, lease: str) -> None:
        """The dispatcher granted this replica to the job `lease`; its desk starts it next
        (or already did: the two calls come from different callers)."""
        if lease not in self._leases:
            self._heard[lease] = time.monotonic()

    def start(self, job: dict, conditioning: bytes | None, lease: str) -> None:
        """Queue one encoded Generate; its events wait for `events`. The replica goes back to
        the dispatcher's `lease` when the job ends, even if the desk that asked is gone."""
        generate = p.decode(job)
        self._outbox[generate.job_id] = queue.Queue()
        self._leases.add(lease)
        self._heard.pop(lease, None)
        self._heard[generate.job_id] = time.monotonic()
        self._inbox.put((generate, conditioning, lease))

    def _serve(self) -> None:
        while True:
            generate, conditioning, lease = self._inbox.get()
            self._run_job(generate, conditioning, lease, self._outbox.get(generate.job_id, queue.Queue()))

    def _forget_silent_desks(self) -> None:
        """Give back a grant no desk started, and stop a job no desk fetches."""
        while True:
            time.sleep(SILENT_SECONDS / 6)
            for key, heard in list(self._heard.items()):
                if time.monotonic() - heard < SILENT_SECONDS:
                    continue
                self._heard.pop(key, None)
                if self._outbox.pop(key, None) is None:  # a grant
                    _release(key, self.name)
                else:
                    self._cancelled.add(key)  # the job ends at its next step and gives the replica back
                    self._streaming.discard(key)

    def events(self, job_id: str, wait: float = 1.0) -> list:
        """(event as a dict, {file name: bytes}) for what the job did since the last call,
        waiting up to `wait` seconds for the first: progress, previews (each candidate's new
        audio), then the candidates' audio with the Result, or an Error or Cancelled."""
        box = self._outbox.get(job_id)
        if box is None:
            return [(p.encode(p.Error(job_id, "the cluster's replica no longer has the job (it restarted, or this "
                                              f"computer did not ask for it for {SILENT_SECONDS:.0f} s)", "crashed")),
                     {})]
        self._heard[job_id] = time.monotonic()
        items = []
        try:
            items.append(box.get(timeout=wait))
            until = time.monotonic() + GATHER_SECONDS
            while not self._urgent(job_id, items[-1][0]["type"]):
                items.append(box.get(timeout=max(0.0, until - time.monotonic())))
        except queue.Empty:
            pass
        if items and items[-1][0]["type"] in ENDS:
            self._outbox.pop(job_id, None)
            self._streaming.discard(job_id)
            self._heard.pop(job_id, None)
        return items

    def _urgent(self, job_id: str, kind: str) -> bool:
        """Whether the desk needs an event of this kind at once: the job's end, or its first audio."""
        if kind == "preview" and job_id not in self._streaming:
            self._streaming.add(job_id)
            return True
        return kind in ENDS

    def _run_job(self, generate: p.Generate, conditioning: bytes | None, lease: str, box: queue.Queue) -> None:
        try:
            for item in self._one_job(generate, conditioning):
                box.put(item)
        except Exception as e:  # the worker could not start, the node's disk is full, …
            box.put((p.encode(p.Error(generate.job_id, f"the cluster's replica failed: {type(e).__name__}: {e}",
                                      "crashed")), {}))
        finally:
            self._leases.discard(lease)
            _release(lease, self.name)

    def _one_job(self, generate: p.Generate, conditioning: bytes | None):
        if generate.job_id in self._cancelled:
            self._cancelled.discard(generate.job_id)
            yield p.encode(p.Cancelled(generate.job_id)), {}
            return
        self._running = generate.job_id
        try:
            yield from self._run(generate, conditioning)
        finally:
            self._running = None
            exchange.discard(generate.job_id)

    def _run(self, job: p.Generate, conditioning: bytes | None):
        folder = exchange.job_folder(job.job_id)
        exchange.open_job(job.job_id)
        if job.conditioning is not None:
            (folder / Path(job.conditioning.file).name).write_bytes(conditioning or b"")
        try:
            self._engine.submit(job.request, job.conditioning, job.job_id)
        except ModelNotPresent as e:  # installed on a node, not on the desk that asks
            yield p.encode(p.Error(job.job_id, f"{e.model} is not installed on the cluster's node "
                                               f"{socket.gethostname()}: run `cuedeck models install {e.model}` "
                                               "there", "bad_input")), {}
            return
        except BadInput as e:
            yield p.encode(p.Error(job.job_id, str(e), "bad_input")), {}
            return
        sent: dict[str, int] = {}  # preview file → bytes already sent
        while True:
            if job.job_id in self._cancelled:
                self._cancelled.discard(job.job_id)
                self._engine.cancel(job.job_id)
            for event in self._engine.poll(POLL_SECONDS):
                if getattr(event, "job_id", None) != job.job_id:
                    continue
                files = {}
                if isinstance(event, p.Preview):
                    for name in event.files:
                        with open(folder / name, "rb") as f:
                            f.seek(sent.get(name, 0))
                            files[name] = f.read()
                        sent[name] = sent.get(name, 0) + len(files[name])
                elif isinstance(event, p.Result):  # a candidate's audio, unless the previews sent were all of it
                    for c in event.candidates:
                        audio, preview = (folder / c.file).read_bytes(), folder / exchange.preview_file(c.index)
                        if sent.get(preview.name) != len(audio) or preview.read_bytes() != audio:
                            files[c.file] = audio
                    event = replace(event, making=replace(
                        event.making, place=f"node {socket.gethostname()} (replica {os.getpid()})"))
                yield p.encode(event), files
                if isinstance(event, (p.Result, p.Error, p.Cancelled)):
                    return

    def cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def describe(self) -> dict:
        """This replica's node, its models, and the job it runs."""
        return {"name": self.name, "node": socket.gethostname(), "pid": os.getpid(), "running": self._running,
                "models": sorted(name for name, info in registry.MODELS.items() if info.is_present()),
                "answering": True}


def _release(lease: str, name: str) -> None:
    import ray

    from .dispatcher import NAME, NAMESPACE

    ray.get_actor(NAME, namespace=NAMESPACE).release.remote(lease, [name])
