"""Disk space and memory, checked before big writes and renders so that a job that cannot
fit is refused with a figure instead of failing halfway."""

import ctypes
import errno
import shutil
from pathlib import Path

from .errors import CueDeckError, DiskFull

NO_ROOM = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)  # full disk, file-size limit, quota


def require_space(folder: Path, needed: int, what: str) -> None:
    """Refuse before writing `needed` bytes into `folder` when its disk has less free."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskFull(f"not enough disk space for {what} in {folder}: needs {size(needed)}, "
                       f"{size(free)} free; free some space or choose another disk")


def require_memory(needed: int, what: str, advice: str) -> None:
    free = available_memory()
    if needed > free:
        raise CueDeckError(f"{what} needs about {size(needed)} of memory and {size(free)} is "
                           f"available; {advice}")


def available_memory() -> int:
    """Bytes the system can give without swapping (Linux); elsewhere no cheap reading."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 1 << 62


def give_back_memory() -> None:
    """Hand the heap memory this process has freed back to the system. glibc keeps it for
    reuse, so a worker holding musicgen-small warm in int8 kept the 1.1 GB of fp32 weights its
    decoder had replaced (2.9 GB resident; 1.9 GB after this, and jobs no slower). Where the C
    library is not glibc, nothing to do."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def write_failed(e: OSError, where: Path, what: str) -> CueDeckError:
    """One line for an OS error met while writing `what` into `where`."""
    if e.errno == errno.EFBIG:
        return DiskFull(f"{what} to {where} failed: a file reached the file-size limit (ulimit -f); "
                        "nothing was written. Raise the limit or export at a lower rate")
    if e.errno in NO_ROOM:
        return DiskFull(f"{what} to {where} failed: the disk is full; nothing was written. Free some "
                        "space or choose another folder")
    return CueDeckError(f"{what} to {where} failed: {e.strerror or e}; nothing was written")


def size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{max(n, 0) / 1e6:.1f} MB"


def cpu_has_bf16() -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), from Linux's CPU flags;
    None where it cannot tell. The engine asks torch; this is for the window, which has none."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else bool({"avx512_bf16", "amx_bf16"} & set(flags))
