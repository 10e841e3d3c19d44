"""An engine replica on a Ray cluster node: the node's own worker process (the same
`python -m engine.worker` a desk runs, through EngineClient), with the job's audio carried
as bytes instead of files. Torch-free itself; engine.cluster runs it as a Ray actor.

A replica runs one job (or one part of a job split over replicas) at a time, as the
dispatcher (engine.dispatcher) grants it, and keeps its worker (and the last model loaded)
between jobs. Its node keeps its own CUEDECK_HOME (models, and the job folders its worker
writes); it never has a library: the desk that asked keeps the results.
"""

import os
import socket
import threading
from dataclasses import replace
from pathlib import Path

from . import exchange, registry, staging
from . import protocol as p
from .client import EngineClient
from .errors import BadInput, ModelNotPresent

POLL_SECONDS = 0.05


class Replica:
    def __init__(self, name: str, threads: int) -> None:
        self.name = name
        os.environ["CUEDECK_THREADS"] = str(threads)  # for its worker
        staging.sweep(exchange.root())  # what a killed replica of this node left
        self._engine = EngineClient()
        self._turn = threading.Lock()  # one job at a time: its events are its own
        self._cancelled: set[str] = set()
        self._running: str | None = None

    def generate(self, job: dict, conditioning: bytes | None, lease: str):
        """Run one encoded Generate; yields (event as a dict, {file name: bytes}) as they come:
        progress, previews (each candidate's new audio since the last), then the candidates'
        audio with the Result, or an Error or Cancelled. Gives this replica back to the
        dispatcher's `lease` when done, even if the desk that asked is gone."""
        generate = p.decode(job)
        try:
            yield from self._one_at_a_time(generate, conditioning)
        finally:
            import ray

            from .dispatcher import NAME, NAMESPACE

            ray.get_actor(NAME, namespace=NAMESPACE).release.remote(lease, [self.name])

    def _one_at_a_time(self, generate: p.Generate, conditioning: bytes | None):
        with self._turn:
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
                        data = (folder / name).read_bytes()
                        files[name], sent[name] = data[sent.get(name, 0):], len(data)
                elif isinstance(event, p.Result):
                    files = {c.file: (folder / c.file).read_bytes() for c in event.candidates}
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
                "models": sorted(name for name, info in registry.MODELS.items() if info.is_present())}
