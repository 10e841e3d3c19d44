"""Work off the UI thread, results handed back on it (the one way the desktop does this).

Two queues: `library` runs every library read and write on one thread, in order (one writer,
so edits never race and an edit made before quitting is saved: `shutdown` waits for it);
`files` reads audio and computes waveforms on two more threads.
"""

import logging
import traceback
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal

from engine.errors import CueDeckError, DamagedCue
from engine.library import Library

log = logging.getLogger(__name__)


class Background(QObject):
    _finished = Signal(object, object)  # callback, value: delivered on the UI thread
    cue_damaged = Signal(int, str)  # any job that met a damaged cue file says so: cue id, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self._library: Library | None = None
        self._closed = False
        self._library_queue = ThreadPoolExecutor(1, thread_name_prefix="cuedeck-library")
        self._files_queue = ThreadPoolExecutor(2, thread_name_prefix="cuedeck-files")
        self._finished.connect(lambda callback, value: callback(value))

    def library(self, job, done=None, failed=None) -> None:
        """Run `job(library)` on the library thread; then `done(result)` on the UI thread."""
        if self._closed:
            return  # the window is closing: nothing new starts
        self._library_queue.submit(self._run, lambda: job(self._open_library()), done, failed)

    def files(self, job, done=None, failed=None) -> None:
        """Run `job()` on a file thread; then `done(result)` on the UI thread."""
        if self._closed:
            return
        self._files_queue.submit(self._run, job, done, failed)

    def shutdown(self) -> None:
        """Finish every queued job (nothing the user did is lost), then stop the threads.
        Idempotent: a window may be closed twice."""
        if self._closed:
            return
        self._closed = True
        self._files_queue.shutdown(wait=True, cancel_futures=True)
        self._library_queue.submit(self._close_library)
        self._library_queue.shutdown(wait=True)

    def _open_library(self) -> Library:
        if self._library is None:
            self._library = Library()
        return self._library

    def _close_library(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    def _run(self, job, done, failed) -> None:
        try:
            value = job()
        except CueDeckError as e:
            if isinstance(e, DamagedCue):
                self.cue_damaged.emit(e.cue_id, str(e))
            if failed:
                self._finished.emit(failed, str(e))
            return
        except Exception as e:  # a bug: keep the app alive, show one line, log the rest
            log.error("background job failed:\n%s", traceback.format_exc())
            if failed:
                self._finished.emit(failed, f"{type(e).__name__}: {e}")
            return
        if done:
            self._finished.emit(done, value)
