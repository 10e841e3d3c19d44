"""The engine on a Ray cluster (a shared GPU box, a render farm) behind EngineClient's own
interface, so the CLI and the desktop generate there the same way they do here.

The cluster runs replicas (engine.replica, named Ray actors that outlive a desk's session, so
a model stays loaded); each runs the same worker as this computer. A desk asks the cluster's
dispatcher (engine.dispatcher) for free replicas, in its fair turn, and splits the job's
candidates over the replicas it gets: candidate i's audio depends only on its seed, so the
split changes nothing. A job's conditioning audio goes to the replicas as bytes, its previews
and candidates come back as bytes and land in this computer's job folder, so the library's
owner keeps them exactly as it keeps local results. Ray is imported only here, on first use.
"""

import contextlib
import ipaddress
import logging
import os
import queue
import re
import shutil
import socket
import threading
import time
from dataclasses import replace

from . import exchange, paths
from . import protocol as p
from .client import EngineClient
from .dispatcher import NAME, NAMESPACE, Dispatcher
from .errors import BadInput, CueDeckError, GenerationFailed
from .replica import ENDS
from .request import GenerationRequest

CONNECT_SECONDS = 5.0
MIN_PART = 4  # candidates per replica. Each step reads all the model's weights whatever the batch,
# so a smaller part costs a replica nearly as much (musicgen-small architecture, one thread,
# 4 s: 2 candidates 97 s, 4 candidates 123 s). Never 1: a batch of one takes other convolution
# kernels in the decoder, whose sums differ in the last bit (measured; 2, 3, 4 and 8 agree).


_joined: list[str] = []  # the cluster this process has joined: Ray allows one at a time


def connect(address: str):
    """Join the Ray cluster whose head serves Ray Client at `address` (host:port, the head's
    `--ray-client-server-port`, 10001 by default), leaving another one this process had joined
    (a job still running there fails); GenerationFailed with one line when it cannot be reached
    or does not match. Ray Client needs one port and makes this computer no node of the
    cluster: when the cluster goes, a job fails and this process lives on."""
    host, port = check_address(address)
    _reachable(address)
    # The port answers: a refusal (no token, the wrong one) needs no half-minute of retries.
    os.environ.setdefault("RAY_CLIENT_INITIAL_CONNECTION_TIMEOUT_S", "2")
    os.environ.setdefault("RAY_CLIENT_MAX_CONNECTION_TIMEOUT_S", "5")
    import ray

    if ray.is_initialized():
        if _joined == [address]:
            return ray
        ray.shutdown()
    _joined.clear()
    # Ray refuses another Python patch release by default; what crosses (plain data) needs
    # only the same minor release.
    os.environ.setdefault("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL", "minor")
    try:
        for attempt in range(3):
            try:
                with _stderr_to_log():  # Ray's own retries print to stderr; the user gets one line
                    ray.init(address=f"ray://{host}:{port}", namespace=NAMESPACE, logging_level=logging.ERROR,
                             log_to_driver=False, configure_logging=False)
                break
            except ConnectionError as e:  # a busy head starts a desk's server process too slowly
                if "Initialization failure" not in str(e) or attempt == 2:
                    raise
                _note(f"connecting to {address}, attempt {attempt + 1}: {e}")
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, … with long texts
        versions = re.findall(r"Ray: (\S+)\s+Python: (\S+)", str(e))  # the cluster's, then this process's
        if str(e).startswith("Version mismatch") and len(versions) == 2:
            (ray_there, python_there), (ray_here, python_here) = versions
            raise GenerationFailed(
                f"the Ray cluster at {address} runs Ray {ray_there} on Python {python_there} and this computer "
                f"Ray {ray_here} on Python {python_here}: they must match (the same Ray, the same Python 3.x); "
                "install the same CueDeck on both") from None
        why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise GenerationFailed(f"cannot use the Ray cluster at {address}: {why}; check the address, that "
                               "`ray start --head` runs there with the same Ray and Python versions, and, if it "
                               "uses token authentication, RAY_AUTH_MODE=token and its RAY_AUTH_TOKEN here") from None
    _joined.append(address)
    # What Ray says later (a lost connection…) goes to the log too; its client's log channel
    # does not pass its warnings on to "ray".
    for name in ("ray", "ray.util.client.logsclient"):
        ray_log = logging.getLogger(name)
        ray_log.handlers, ray_log.propagate = [logging.FileHandler(_log_path())], False
    if threading.excepthook is not _grpc_to_log:
        _grpc_to_log.before = threading.excepthook
        threading.excepthook = _grpc_to_log
    return ray


def _grpc_to_log(args) -> None:
    """gRPC's own threads (under Ray Client) raise when the cluster goes away; the job says
    so in one line, their tracebacks go to the log. Other threads' go where they went."""
    import traceback

    if any("/grpc/" in frame.filename for frame in traceback.extract_tb(args.exc_traceback)):
        _note("".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))
    else:
        _grpc_to_log.before(args)


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
        raise BadInput(f"{address!r} is not a cluster address; give host:port, e.g. gpu-box:10001")
    return host, int(port)


def _reachable(address: str) -> None:
    """A quick look before Ray's own connection, which retries for minutes."""
    try:
        socket.create_connection(check_address(address), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        raise GenerationFailed(f"cannot reach the Ray cluster at {address} ({e.strerror or e}); check the "
                               "address, the network, and that `ray start --head` runs there") from None


def dispatcher(address: str):
    """The cluster's dispatcher, started by the first desk that asks (its replicas with it)."""
    ray = connect(address)
    return ray.remote(Dispatcher).options(name=NAME, namespace=NAMESPACE, get_if_exists=True, lifetime="detached",
                                          max_restarts=-1, max_concurrency=1000, num_cpus=0).remote()


def status(address: str) -> dict:
    """The cluster's nodes (CPUs, GPUs), its replicas (node, models, the job they run) and the
    jobs queued and running."""
    ray = connect(address)
    nodes = [{"address": n["NodeManagerAddress"], "alive": n["Alive"],
              "cpus": n["Resources"].get("CPU", 0), "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes()]
    try:
        jobs = ray.get(dispatcher(address).describe.remote(), timeout=120)
    except Exception as e:
        raise GenerationFailed(f"the Ray cluster at {address} cannot run CueDeck ({type(e).__name__}); install the "
                               "same CueDeck on its nodes") from None
    names = sorted(set(jobs.pop("free")).union(*jobs["running"].values()))
    return {"address": address, "nodes": nodes, "replicas": [_describe(ray, name) for name in names], **jobs}


def _describe(ray, name: str) -> dict:
    try:
        return ray.get(ray.get_actor(name, namespace=NAMESPACE).describe.remote(), timeout=30)
    except Exception as e:  # (a replica Ray restarts after a crash answers again soon)
        _note(f"replica {name} did not answer: {e!r}")
        return {"name": name, "node": "?", "pid": None, "running": None, "models": [], "answering": False}


def install(address: str, name: str) -> list[dict]:
    """Install model `name` on every node of the cluster, each from its own network, at once:
    for each node {"node", "installed", "detail"} (where it is, or why it is not). Ctrl+C
    stops the downloads; the next install resumes them."""
    ray = connect(address)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n["Alive"]]
    task = ray.remote(_install_here)
    refs = [task.options(num_cpus=0, max_retries=0,
                         scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(name)
            for n in nodes]
    try:
        done = []
        for node, ref in zip(nodes, refs):
            try:
                done.append(ray.get(ref))
            except Exception as e:  # the node went away, or Ray failed there
                done.append({"node": f"{node['NodeManagerAddress']} (Ray node {node['NodeID'][:8]})",
                             "installed": False, "detail": f"{type(e).__name__} on that node"})
        return done
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def _install_here(name: str) -> dict:
    """On a cluster node: the model installed as `cuedeck models install` does it there."""
    import ray

    from . import models

    node = f"{socket.gethostname()} (Ray node {ray.get_runtime_context().get_node_id()[:8]})"
    try:
        return {"node": node, "installed": True, "detail": str(models.install(name).path)}
    except CueDeckError as e:
        return {"node": node, "installed": False, "detail": str(e)}


def split(request: GenerationRequest, replicas: int) -> list[tuple[int, GenerationRequest]]:
    """The request's candidates in `replicas` parts as even as can be: (index of the part's
    first candidate, the part as a request of its own, its seeds those of the whole)."""
    parts, first = [], 0
    for k in range(replicas):
        count = (request.candidates - first) // (replicas - k)
        parts.append((first, replace(request, candidates=count, seed=request.seed + first)))
        first += count
    return parts


class ClusterClient(EngineClient):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self.desk = f"{socket.gethostname()} (pid {os.getpid()})"
        self._events: queue.Queue = queue.Queue()
        self._threads: dict[str, threading.Thread] = {}
        self._dispatcher = None
        self._replicas: dict[str, object] = {}  # name → actor handle, while connected
        self._connecting = threading.Lock()
        self._parts: dict[str, list] = {}  # job → (part's job id, its replica) while it runs
        self._cancelled: set[str] = set()

    @property
    def worker_pid(self) -> int | None:
        return None  # the workers run on the cluster

    def start(self) -> None:
        """Connect ahead of the first job, on a thread of its own: the caller never waits."""
        threading.Thread(target=self._warm_up, daemon=True, name="cuedeck-cluster-connect").start()

    def prepare(self, request) -> None:
        self.start()  # each replica keeps its own model warm

    def _warm_up(self) -> None:
        try:
            self._connected()
        except Exception as e:  # the first job says it, in one line
            _note(f"connecting to {self.address}: {e}")

    def _connected(self):
        with self._connecting:
            if self._dispatcher is None:
                self._dispatcher = dispatcher(self.address)
                self._replicas.clear()
            return self._dispatcher

    def _replica(self, name: str):
        """Replica `name`'s handle (asking the cluster for it once: each ask is a round trip)."""
        import ray

        if name not in self._replicas:
            self._replicas[name] = ray.get_actor(name, namespace=NAMESPACE)
        return self._replicas[name]

    def submit(self, request: GenerationRequest, conditioning: p.Conditioning | None = None,
               job_id: str | None = None) -> str:
        request = request.validated()  # the cluster says whether it has the model
        job_id = job_id or exchange.new_job_id()
        exchange.open_job(job_id)
        self._jobs.append(job_id)
        thread = threading.Thread(target=self._follow, args=(job_id, request, conditioning), daemon=True,
                                  name=f"cuedeck-cluster-{job_id}")
        self._threads[job_id] = thread
        thread.start()
        return job_id

    def cancel(self, job_id: str) -> None:
        """Within a step, on every replica the job runs on (or its place in the queue given up)."""
        if job_id not in self._jobs:
            return
        with self._connecting:
            self._cancelled.add(job_id)
            parts = list(self._parts.get(job_id, []))

        def tell():
            _tell(lambda: self._connected().withdraw.remote(job_id))
            for part, replica in parts:
                _tell(lambda: replica.cancel.remote(part))

        threading.Thread(target=tell, daemon=True).start()

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
        """Cancel what runs on the cluster for this desk and leave it (the replicas stay)."""
        for job_id in list(self._jobs):
            self.cancel(job_id)
        for thread in list(self._threads.values()):
            thread.join(timeout)
        self._jobs.clear()
        self._threads.clear()
        self._dispatcher = None

    def _follow(self, job_id: str, request: GenerationRequest, conditioning: p.Conditioning | None) -> None:
        """On its own thread (a melody may be hundreds of MB): wait for replicas, run the job's
        parts on them, and put the job's events together."""
        import ray

        granted, ended = [], None
        try:
            sent = (exchange.job_folder(job_id) / conditioning.file).read_bytes() if conditioning else None
            queue_ = self._connected()
            granted = ray.get(queue_.acquire.remote(self.desk, job_id, max(1, request.candidates // MIN_PART)))
            parts = split(request, len(granted))
            replicas = [self._replica(name) for name in granted]
            with self._connecting:
                cancelled = job_id in self._cancelled or not granted
                self._parts[job_id] = [(f"{job_id}-{k + 1}", replica) for k, replica in enumerate(replicas)]
            if cancelled:
                ended = p.Cancelled(job_id)
            else:
                gathered = _Gathered(job_id, request, parts, self.address)
                threads = [threading.Thread(target=self._run_part, args=(gathered, k, part_id, replica, part,
                                                                         conditioning, sent), daemon=True)
                           for k, ((part_id, replica), (_, part)) in enumerate(zip(self._parts[job_id], parts))]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                ended = gathered.end()
        except CueDeckError as e:  # could not connect: its own line
            ended = p.Error(job_id, str(e), "bad_input" if isinstance(e, BadInput) else "failed")
        except Exception as e:  # the cluster or the connection failed
            ended = self._failed(job_id, e)
        finally:
            with self._connecting:
                self._parts.pop(job_id, None)
                self._cancelled.discard(job_id)
            # Each replica gives itself back as its part ends, unless it died or never started the
            # part; then the desk does, before it says the job ended (the CLI exits on that).
            if granted and not isinstance(ended, p.Result):
                _tell(lambda: ray.get(queue_.release.remote(job_id, granted), timeout=5))
            self._events.put(ended)

    def _run_part(self, gathered: "_Gathered", k: int, part_id: str, replica, part: GenerationRequest,
                  conditioning: p.Conditioning | None, sent: bytes | None) -> None:
        import ray

        job = p.encode(p.Generate(part_id, part, exchange.job_folder(part_id).name, conditioning))
        try:
            ray.get(replica.start.remote(job, sent, gathered.job_id))
            ended = False
            while not ended:
                for data, files in ray.get(replica.events.remote(part_id)):
                    ended = data["type"] in ENDS
                    for event in gathered.take(k, p.decode(data), files):
                        self._events.put(event)
        except Exception as e:  # the replica died, or the cluster went
            gathered.fail(self._failed(gathered.job_id, e))
        if gathered.failed:  # the other parts need not go on
            for other_id, other in self._parts.get(gathered.job_id, []):
                if other_id != part_id:
                    _tell(lambda: other.cancel.remote(other_id))

    def _failed(self, job_id: str, e: Exception) -> p.Error:
        from ray.exceptions import RayActorError

        _note(f"job {job_id} on {self.address} failed: {e!r}")
        with self._connecting:
            self._dispatcher = None  # ask again for the next job
            if not isinstance(e, RayActorError):
                _joined.clear()  # and connect again: the connection may be what failed
        why = "a replica stopped" if isinstance(e, RayActorError) else f"it stopped answering: {type(e).__name__}"
        return p.Error(job_id, f"the Ray cluster at {self.address} failed ({why}; details in logs/cluster.log); "
                               "nothing of this job was kept: try again, or generate on this computer", "crashed")


def _tell(call) -> None:
    """A message whose loss only the log needs to know of (the cluster may be gone)."""
    try:
        call()
    except Exception as e:
        _note(f"could not tell the cluster: {e!r}")


class _Gathered:
    """The parts of one job, each on its own replica, seen as the one job the desk asked for:
    their files renumbered into its candidates, progress over all of them, previews once every
    part has some, and one ending: the Result when every part has one, else the first Error
    (or Cancelled)."""

    def __init__(self, job_id: str, request: GenerationRequest, parts: list[tuple[int, GenerationRequest]],
                 address: str) -> None:
        self.job_id, self.request, self.address = job_id, request, address
        self.folder = exchange.job_folder(job_id)
        self.firsts = [first for first, _ in parts]
        self.sizes = [part.candidates for _, part in parts]
        self.fractions = [0.0] * len(parts)
        self.seconds: list[float | None] = [None] * len(parts)
        self.results: list[p.Result | None] = [None] * len(parts)
        self.failed: p.Error | p.Cancelled | None = None
        self.lock = threading.Lock()

    def take(self, k: int, event, files: dict[str, bytes]) -> list:
        """The events the desk gets for part k's `event` (its new audio written first)."""
        with self.lock:
            if self.failed:
                return []
            for name, content in files.items():
                with open(self.folder / self._renamed(name, k), "ab") as f:
                    f.write(content)
            if isinstance(event, p.Progress):
                self.fractions[k] = event.fraction
                done = sum(f * n for f, n in zip(self.fractions, self.sizes)) / sum(self.sizes)
                return [p.Progress(self.job_id, done, event.stage)]
            if isinstance(event, p.Preview):
                self.seconds[k] = event.seconds
                if None in self.seconds:
                    return []
                return [p.Preview(self.job_id, min(self.seconds), event.sample_rate, event.channels,
                                  [exchange.preview_file(i) for i in range(self.request.candidates)])]
            if isinstance(event, p.Result):
                for c in event.candidates:  # the replica sends no audio that the previews sent
                    if c.file not in files:
                        shutil.copyfile(self.folder / exchange.preview_file(c.index + self.firsts[k]),
                                        self.folder / exchange.candidate_file(c.index + self.firsts[k]))
                self.results[k] = replace(event, candidates=[
                    replace(c, index=c.index + self.firsts[k], file=self._renamed(c.file, k))
                    for c in event.candidates])
                return []
            if isinstance(event, (p.Error, p.Cancelled)):
                self.failed = replace(event, job_id=self.job_id)
            return []

    def fail(self, error: p.Error) -> None:
        with self.lock:
            self.failed = self.failed or error

    def end(self) -> p.Result | p.Error | p.Cancelled:
        if self.failed or None in self.results:
            return self.failed or p.Error(self.job_id, f"the Ray cluster at {self.address} ended a part of the job "
                                                       "without its audio; nothing was kept", "crashed")
        first = self.results[0]
        places = ", ".join(dict.fromkeys(r.making.place for r in self.results))
        return replace(first, job_id=self.job_id, request=self.request,
                       candidates=[c for r in self.results for c in r.candidates],
                       making=replace(first.making, place=f"Ray cluster {self.address}, {places}"),
                       elapsed=max(r.elapsed for r in self.results))

    def _renamed(self, name: str, k: int) -> str:
        """A part's `preview-2.f32` is the job's `preview-6.f32` when the part starts at candidate 5."""
        kind, number = re.fullmatch(r"(\w+)-(\d+)\.f32", name).groups()
        return f"{kind}-{int(number) + self.firsts[k]}.f32"
