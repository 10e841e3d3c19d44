"""The engine on a Ray cluster (a shared GPU box, a render farm) behind EngineClient's own
interface, so the CLI and the desktop generate there the same way they do here.

The cluster runs replicas (engine.replica, named Ray actors that outlive a desk's session, so
a model stays loaded); each runs the same worker as this computer. A job's conditioning audio
goes to the replica as bytes, its previews and candidates come back as bytes and land in this
computer's job folder, so the library's owner keeps them exactly as it keeps local results.
Ray is imported only here, on first use.
"""

import contextlib
import ipaddress
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import replace

from . import exchange, paths
from . import protocol as p
from .client import EngineClient
from .errors import BadInput, CueDeckError, GenerationFailed
from .request import GenerationRequest

NAMESPACE = "cuedeck"
REPLICA = "cuedeck-replica-0"
CONNECT_SECONDS = 5.0


_joined: list[str] = []  # the cluster this process has joined: Ray allows one at a time


def connect(address: str):
    """Join the Ray cluster at `address` as a client (leaving another one this process had
    joined: a job still running there fails); GenerationFailed with one line when it cannot
    be reached or does not match."""
    _reachable(address)
    import ray

    if ray.is_initialized():
        if _joined == [address]:
            return ray
        ray.shutdown()
    _joined.clear()
    try:
        with _stderr_to_log():  # Ray's own retries print to stderr; the user gets one line
            ray.init(address=address, namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False,
                     configure_logging=False)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, … with long texts
        why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise GenerationFailed(f"cannot use the Ray cluster at {address}: {why}; check the address, that "
                               "`ray start --head` runs there with the same Ray and Python versions, and, if it "
                               "uses token authentication, RAY_AUTH_MODE=token and its RAY_AUTH_TOKEN here") from None
    _joined.append(address)
    return ray


def _log_path():
    folder = paths.log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "cluster.log"


def _note(line: str) -> None:
    """Details for logs/cluster.log (the user got one line)."""
    with open(_log_path(), "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


@contextlib.contextmanager
def _stderr_to_log():
    saved = os.dup(2)
    with open(_log_path(), "ab") as log_file:
        os.dup2(log_file.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def unprotected(address: str) -> bool:
    """Whether connecting to `address` would reach another computer without Ray's token
    authentication (anyone who reaches such a cluster can run code on it)."""
    host = check_address(address)[0]
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return not loopback and os.environ.get("RAY_AUTH_MODE") != "token"


def check_address(address: str) -> tuple[str, int]:
    """(host, port) of a cluster address, or BadInput."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"{address!r} is not a cluster address; give host:port, e.g. gpu-box:6379")
    return host, int(port)


def _reachable(address: str) -> None:
    """A quick look before Ray's own connection, which retries for minutes."""
    try:
        socket.create_connection(check_address(address), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        raise GenerationFailed(f"cannot reach the Ray cluster at {address} ({e.strerror or e}); check the "
                               "address, the network, and that `ray start --head` runs there") from None


def replica(address: str):
    """The cluster's replica, started on first use (it keeps its model loaded for every desk)."""
    ray = connect(address)
    from .replica import Replica

    actor = ray.remote(Replica).options(name=REPLICA, get_if_exists=True, lifetime="detached",
                                        max_concurrency=16, num_cpus=1)
    return actor.remote()


def status(address: str) -> dict:
    """The cluster's nodes (CPUs, GPUs), its replica's node and models, and the job it runs."""
    ray = connect(address)
    nodes = [{"address": n["NodeManagerAddress"], "alive": n["Alive"],
              "cpus": n["Resources"].get("CPU", 0), "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes()]
    try:
        found = ray.get(replica(address).describe.remote(), timeout=120)
    except Exception as e:
        raise GenerationFailed(f"the Ray cluster at {address} has no working CueDeck replica ({type(e).__name__}); "
                               "install the same CueDeck on its nodes") from None
    return {"address": address, "nodes": nodes, "replicas": [found]}


class ClusterClient(EngineClient):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self._events: queue.Queue = queue.Queue()
        self._threads: dict[str, threading.Thread] = {}
        self._replica = None
        self._connecting = threading.Lock()

    @property
    def worker_pid(self) -> int | None:
        return None  # the worker runs on the cluster

    def start(self) -> None:
        """Connect ahead of the first job, on a thread of its own: the caller never waits."""
        threading.Thread(target=self._warm_up, daemon=True, name="cuedeck-cluster-connect").start()

    def _warm_up(self) -> None:
        try:
            self._connected()
        except Exception as e:  # the first job says it, in one line
            _note(f"connecting to {self.address}: {e}")

    def _connected(self):
        with self._connecting:
            if self._replica is None:
                self._replica = replica(self.address)
            return self._replica

    def submit(self, request: GenerationRequest, conditioning: p.Conditioning | None = None,
               job_id: str | None = None) -> str:
        request = request.validated()  # the cluster says whether it has the model
        job_id = job_id or exchange.new_job_id()
        folder = exchange.open_job(job_id)
        job = p.encode(p.Generate(job_id, request, folder, conditioning))
        self._jobs.append(job_id)
        thread = threading.Thread(target=self._follow, args=(job_id, job, conditioning), daemon=True,
                                  name=f"cuedeck-cluster-{job_id}")
        self._threads[job_id] = thread
        thread.start()
        return job_id

    def cancel(self, job_id: str) -> None:
        if job_id in self._jobs:
            threading.Thread(target=lambda: self._connected().cancel.remote(job_id), daemon=True).start()

    def poll(self, timeout: float = 0.0) -> list:
        events = []
        try:
            events.append(self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait())
            while True:
                events.append(self._events.get_nowait())
        except queue.Empty:
            pass
        for event in events:
            if isinstance(event, (p.Result, p.Error, p.Cancelled)) and event.job_id in self._jobs:
                self._jobs.remove(event.job_id)
                self._threads.pop(event.job_id, None)
        return events

    def kill(self) -> None:
        self.close(timeout=0)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what runs on the cluster for this desk and leave it (the replica stays)."""
        for job_id in list(self._jobs):
            self.cancel(job_id)
        for thread in list(self._threads.values()):
            thread.join(timeout)
        self._jobs.clear()
        self._threads.clear()
        self._replica = None

    def _follow(self, job_id: str, job: dict, conditioning: p.Conditioning | None) -> None:
        """On its own thread (a melody may be hundreds of MB): the conditioning audio to the
        cluster, the job's events from it, its audio into the job folder."""
        import ray

        folder = exchange.job_folder(job_id)
        try:
            sent = (folder / conditioning.file).read_bytes() if conditioning else None
            for ref in self._connected().generate.remote(job, sent):
                data, files = ray.get(ref)
                for name, content in files.items():
                    with open(folder / name, "ab") as f:
                        f.write(content)
                event = p.decode(data)
                if isinstance(event, p.Result):
                    event = replace(event, making=replace(
                        event.making, place=f"Ray cluster {self.address}, {event.making.place}"))
                self._events.put(event)
        except CueDeckError as e:  # could not connect: its own line
            self._events.put(p.Error(job_id, str(e), "bad_input" if isinstance(e, BadInput) else "failed"))
        except Exception as e:  # the cluster, the replica or the connection failed
            _note(f"job {job_id} on {self.address} failed: {e!r}")
            why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            self._events.put(p.Error(job_id, f"the Ray cluster at {self.address} failed ({why}); nothing of this "
                                             "job was kept: try again, or generate on this computer", "crashed"))


