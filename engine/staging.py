"""Unfinished writes. Everything CueDeck writes (an audio file, an export folder, a model
folder) is first named `.NAME.PID.part` beside its final place and renamed into place when
whole. A `.part` whose process is gone is what a kill left behind: `sweep` removes it."""

import os
import shutil
from pathlib import Path


def part_path(final: Path) -> Path:
    final = Path(final)
    return final.with_name(f".{final.name}.{os.getpid()}.part")


def writer_pid(path: Path) -> int | None:
    """The pid in a `.NAME.PID.part` (or `.NAME.PID.json`) name, or None."""
    pid = Path(path).name.split(".")[-2]
    return int(pid) if pid.isdigit() else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep(folder: Path) -> list[Path]:
    """Remove the `.part` files and folders in `folder` whose writer is gone."""
    removed = []
    try:
        parts = list(Path(folder).glob(".*.part"))
    except OSError:
        return removed
    for part in parts:
        pid = writer_pid(part)
        if pid is None or process_alive(pid):
            continue
        if part.is_dir():
            shutil.rmtree(part, ignore_errors=True)
        else:
            part.unlink(missing_ok=True)
        removed.append(part)
    return removed
