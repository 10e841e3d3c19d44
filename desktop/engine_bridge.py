"""The engine client, adapted to Qt: a timer polls the engine and turns events into signals.

The window owns the library, so the library thread does the library's part of every job:
it stages the audio a continuation or melody starts from before the job goes to the engine,
and keeps the candidates (or a split's stems) as files and rows when they come back
(engine.exchange). Jobs run on this computer or on a Ray cluster (`use_cluster`); each place
has its own client, and a job stays with the place it was sent to. Splits run here.
"""

from PySide6.QtCore import QObject, QTimer, Signal

from engine import exchange, registry
from engine import protocol as p
from engine.client import EngineClient
from engine.cluster import ClusterClient
from engine.errors import ModelNotPresent
from engine.request import GenerationRequest

POLL_MS = 30


class EngineBridge(QObject):
    progress = Signal(str, float, str)  # job id, fraction, stage
    finished = Signal(str, list)  # job id, [Cue]: the job's cues are in the library
    failed = Signal(str, str, str)  # job id, one-line message, a model to install first or ""
    cancelled = Signal(str)
    preview = Signal(str, float, int, int, list)  # job id, seconds ready, rate, channels, files

    def __init__(self, background, parent=None):
        super().__init__(parent)
        self._background = background
        self.cluster = ""  # where new jobs run: "" is this computer, else a Ray cluster's address
        self._clients: dict[str, EngineClient] = {"": EngineClient()}  # by place
        self._staging: dict[str, bool] = {}  # jobs whose audio is being staged → cancelled
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return any(c.busy for c in self._clients.values()) or bool(self._staging)

    @property
    def worker_pid(self) -> int | None:
        local = self._clients.get("")
        return local.worker_pid if local else None

    def use_cluster(self, address: str) -> None:
        """Send new jobs to the Ray cluster at `address` ("": this computer)."""
        self.cluster = address

    def start(self, request: GenerationRequest) -> None:
        """Start the engine ahead of the first job, and have it load that job's model (as
        `request` stands now), so the job does not wait for either."""
        self._client(self.cluster).prepare(request)
        self._timer.start()

    def submit(self, request: GenerationRequest, here: bool = False) -> str:
        """Queue a job, on the cluster in use unless `here`; returns its id (raises BadInput at
        once for a bad request)."""
        request = request.validated()
        place = "" if here else self.cluster
        if not place:  # (a cluster says whether it has the model)
            registry.require_present(registry.get(request.model))

        def stage(library, job_id: str):
            exchange.open_job(job_id)
            return exchange.stage_conditioning(library, request, job_id)

        def submit(job_id: str, conditioning) -> None:
            self._client(place).submit(request, conditioning, job_id)

        return self._queue(stage, submit)

    def split(self, cue_id: int) -> str:
        """Queue splitting cue `cue_id` into stems, on this computer; returns the job's id. A
        cue split before gives its stems at once."""
        def stage(library, job_id: str):
            try:
                return exchange.stage_split(library, cue_id, job_id)
            except ModelNotPresent as missing:  # said with its Install button
                return missing

        def submit(job_id: str, found) -> None:
            if isinstance(found, ModelNotPresent):
                self.failed.emit(job_id, str(found), found.model)
            elif isinstance(found, list):
                self.finished.emit(job_id, found)
            else:
                self._client("").submit_split(cue_id, found, job_id)

        return self._queue(stage, submit)

    def _queue(self, stage, submit) -> str:
        """A new job: the library thread stages its audio (`stage(library, job_id)`), then
        `submit(job_id, staged)` hands it to an engine, unless it was cancelled meanwhile."""
        job_id = exchange.new_job_id()
        self._staging[job_id] = False

        def staged(value) -> None:
            if self._staging.pop(job_id):
                self._discard(job_id)
                self.cancelled.emit(job_id)
                return
            submit(job_id, value)
            self._timer.start()

        def failed(message: str) -> None:
            self._staging.pop(job_id, None)
            self._discard(job_id)
            self.failed.emit(job_id, message, "")

        self._background.library(lambda library: stage(library, job_id), staged, failed)
        return job_id

    def cancel(self, job_id: str) -> None:
        if job_id in self._staging:
            self._staging[job_id] = True  # it ends when its staging does
        for client in self._clients.values():
            client.cancel(job_id)  # (the one that has it)

    def close(self) -> None:
        self._timer.stop()
        for client in self._clients.values():
            client.close()

    def _client(self, place: str) -> EngineClient:
        if place not in self._clients:
            self._clients[place] = ClusterClient(place) if place else EngineClient()
        return self._clients[place]

    def _discard(self, job_id: str) -> None:
        self._background.library(lambda library: exchange.discard(job_id))

    def _keep(self, result: p.Result) -> None:
        self._background.library(lambda library: exchange.keep(library, result),
                                 lambda cues: self.finished.emit(result.job_id, cues),
                                 lambda message: self.failed.emit(result.job_id, message, ""))

    def _poll(self) -> None:
        for place, client in list(self._clients.items()):
            for event in client.poll(0):
                self._deliver(event)
            if place not in ("", self.cluster) and not client.busy:  # a cluster no longer used
                client.close()
                del self._clients[place]
        if not any(c.busy for c in self._clients.values()):
            self._timer.stop()

    def _deliver(self, event) -> None:
        if isinstance(event, p.Progress):
            self.progress.emit(event.job_id, event.fraction, event.stage)
        elif isinstance(event, p.Preview):
            folder = exchange.job_folder(event.job_id)
            self.preview.emit(event.job_id, event.seconds, event.sample_rate, event.channels,
                              [str(folder / name) for name in event.files])
        elif isinstance(event, p.Result):
            self._keep(event)
        elif isinstance(event, p.Separated):
            self._background.library(lambda library: exchange.keep_stems(library, event),
                                     lambda cues: self.finished.emit(event.job_id, cues),
                                     lambda message: self.failed.emit(event.job_id, message, ""))
        elif isinstance(event, p.Error):
            self._discard(event.job_id)
            self.failed.emit(event.job_id, event.message, event.model or "")
        elif isinstance(event, p.Cancelled):
            self._discard(event.job_id)
            self.cancelled.emit(event.job_id)
