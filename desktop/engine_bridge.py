"""The engine client, adapted to Qt: a timer polls the worker and turns events into signals."""

from PySide6.QtCore import QObject, QTimer, Signal

from engine import protocol as p
from engine.client import EngineClient
from engine.request import GenerationRequest

POLL_MS = 30


class EngineBridge(QObject):
    progress = Signal(str, float, str)  # job id, fraction, stage
    finished = Signal(str, list)  # job id, cue dicts
    failed = Signal(str, str, str)  # job id, one-line message, a model to install first or ""
    cancelled = Signal(str)
    preview = Signal(str, float, int, int, list)  # job id, seconds ready, rate, channels, files

    def __init__(self, parent=None):
        super().__init__(parent)
        self._client = EngineClient()
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return self._client.busy

    @property
    def worker_pid(self) -> int | None:
        return self._client.worker_pid

    def start(self) -> None:
        """Start the worker ahead of the first job, so that job does not wait for torch."""
        self._client.start()
        self._timer.start()

    def submit(self, request: GenerationRequest) -> str:
        """Queue a job (raises BadInput at once for a bad request)."""
        job_id = self._client.submit(request)
        self._timer.start()
        return job_id

    def cancel(self, job_id: str) -> None:
        self._client.cancel(job_id)

    def close(self) -> None:
        self._timer.stop()
        self._client.close()

    def _poll(self) -> None:
        for event in self._client.poll(0):
            if isinstance(event, p.Progress):
                self.progress.emit(event.job_id, event.fraction, event.stage)
            elif isinstance(event, p.Preview):
                self.preview.emit(event.job_id, event.seconds, event.sample_rate, event.channels, event.files)
            elif isinstance(event, p.Result):
                self.finished.emit(event.job_id, event.cues)
            elif isinstance(event, p.Error):
                self.failed.emit(event.job_id, event.message, event.model or "")
            elif isinstance(event, p.Cancelled):
                self.cancelled.emit(event.job_id)
        if not self._client.busy:
            self._timer.stop()
