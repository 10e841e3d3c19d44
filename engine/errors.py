"""Typed errors whose message is one line a user can act on.

The CLI prints the message alone and exits with `exit_code`; the desktop shows it on the job.
"""


class CueDeckError(Exception):
    """A failure the user can act on (exit status 1)."""

    exit_code = 1


class BadInput(CueDeckError):
    """The user's input cannot be used (exit status 2); nothing was changed."""

    exit_code = 2


class ModelNotPresent(BadInput):
    """The model is known but its weights are not on this machine. `model` names the one to
    install; each front end says how (the CLI its command, the window its Install button)."""

    def __init__(self, message: str, model: str):
        super().__init__(message)
        self.model = model


class LibraryError(BadInput):
    """The library folder or database cannot be used (unwritable, corrupted, too new)."""


class LibraryDamaged(CueDeckError):
    """The library database itself is damaged (a failure, exit 1: the user's input was fine)."""


class NotFound(BadInput):
    """A cue or other named thing does not exist."""


class GenerationFailed(CueDeckError):
    """The engine failed while generating; nothing of the job was kept."""


class Cancelled(CueDeckError):
    """The job was cancelled; nothing of it was kept."""

    exit_code = 130


class DiskFull(CueDeckError):
    """There is not enough room on a disk (or the file-size limit was reached); nothing
    half-written was kept."""


class DamagedCue(BadInput):
    """A cue's file is missing, or differs from what the library recorded."""

    def __init__(self, message: str, cue_id: int):
        super().__init__(message)
        self.cue_id = cue_id


class DownloadFailed(CueDeckError):
    """The network or the hub failed; nothing half-written was kept under a final name."""


class PlayerError(CueDeckError):
    """No usable audio output (no device, device busy, PortAudio missing)."""


class ProtocolError(CueDeckError):
    """A message between client and worker that is malformed or of another protocol version."""
