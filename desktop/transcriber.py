"""Cues to MIDI from the window. Each transcription is a child process (`python -m
engine.transcription ID`): the window's process never loads onnxruntime or librosa, the work
runs on another core, and Cancel kills it (the .mid is written whole or not at all)."""

import json
import uuid

from PySide6.QtCore import QObject, QProcess, Signal

from engine import processes
from engine.cue import Cue


class Transcriber(QObject):
    started = Signal(str, str)  # job id, what it does in words
    progress = Signal(str, float)  # job id, fraction
    done = Signal(str, object)  # job id, the cue (its .mid now beside it)
    failed = Signal(str, str)  # job id, one line
    cancelled = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._jobs: dict[str, tuple[Cue, QProcess]] = {}  # in order; the first one runs
        self._cancelling: set[str] = set()

    def transcribe(self, cue: Cue) -> None:
        """Queue `cue`'s transcription, unless it is queued already (or its MIDI is there).
        One runs at a time: many selected cues do not start as many processes."""
        if cue.midi_path.is_file() or any(c.id == cue.id for c, _ in self._jobs.values()):
            return
        job_id = f"midi-{uuid.uuid4().hex[:12]}"
        process = QProcess(self)
        program, *arguments = processes.command("engine.transcription", str(cue.id))
        process.setProgram(program)
        process.setArguments(arguments)
        process.readyReadStandardOutput.connect(lambda: self._read(job_id))
        process.finished.connect(lambda code, status: self._finished(job_id, code))
        self._jobs[job_id] = (cue, process)
        self.started.emit(job_id, f"MIDI of cue {cue.id} · {cue.prompt}")
        self._start_next()

    def cancel(self, job_id: str) -> bool:
        """Stop a transcription, running or queued; False when `job_id` is not one of them."""
        if job_id not in self._jobs:
            return False
        process = self._jobs[job_id][1]
        if process.state() == QProcess.ProcessState.NotRunning:  # still queued
            self._jobs.pop(job_id)
            process.deleteLater()
            self.cancelled.emit(job_id)
        else:
            self._cancelling.add(job_id)
            process.kill()
        return True

    def stop_all(self) -> None:
        """On closing the window: drop the queue, kill what runs and wait for it (no orphan
        keeps a core)."""
        for job_id, (_, process) in list(self._jobs.items()):
            if process.state() == QProcess.ProcessState.NotRunning:
                self._jobs.pop(job_id)
        for job_id, (_, process) in list(self._jobs.items()):
            self._cancelling.add(job_id)
            process.kill()
            process.waitForFinished(5000)

    def _start_next(self) -> None:
        if self._jobs:
            _, process = next(iter(self._jobs.values()))
            if process.state() == QProcess.ProcessState.NotRunning:
                process.start()

    def _read(self, job_id: str) -> None:
        _, process = self._jobs[job_id]
        while process.canReadLine():
            try:
                message = json.loads(bytes(process.readLine()).decode())
            except ValueError:
                continue  # a library's stray print
            if "progress" in message:
                self.progress.emit(job_id, float(message["progress"]))
            elif "error" in message:
                process.setProperty("error", message["error"])

    def _finished(self, job_id: str, code: int) -> None:
        self._read(job_id)
        cue, process = self._jobs.pop(job_id)
        if job_id in self._cancelling:
            self._cancelling.discard(job_id)
            self.cancelled.emit(job_id)
        elif code == 0 and cue.midi_path.is_file():
            self.done.emit(job_id, cue)
        else:
            why = process.property("error") or (
                bytes(process.readAllStandardError()).decode(errors="replace").strip().splitlines() or
                [f"the transcription stopped (exit code {code})"])[-1]
            self.failed.emit(job_id, f"MIDI of cue {cue.id} failed: {why}")
        process.deleteLater()
        self._start_next()
