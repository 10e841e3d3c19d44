"""Shared test set-up: nothing a test does touches the real home, sound card or display.

Set at import, before Qt or PortAudio can start: HOME (whose .asoundrc makes ALSA's null
PCM the default device), XDG_RUNTIME_DIR, the offscreen Qt platform, offline hub access.
Every test gets its own CUEDECK_HOME, and fails if it leaves worker processes or threads.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_session = Path(tempfile.mkdtemp(prefix="cuedeck-tests-"))
(_session / "home").mkdir()
(_session / "home" / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type null }\n")
(_session / "runtime").mkdir(mode=0o700)
os.environ["HOME"] = str(_session / "home")
os.environ["XDG_RUNTIME_DIR"] = str(_session / "runtime")
# A 1920 × 1200 screen (the offscreen default is 800 × 800): room for every layout tested.
(_session / "screen.json").write_text('{"screens": [{"name": "test", "x": 0, "y": 0, "width": 1920, '
                                      '"height": 1200, "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}')
os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_session / 'screen.json'}"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["CUEDECK_HOME"] = str(_session / "cuedeck")
# The app gives a job every core; here two test processes and their workers share the cores.
os.environ["CUEDECK_THREADS"] = "1"
# A suite started in the background (`make test &`) inherits Ctrl+C ignored, and so would every
# process it starts; the tests that press Ctrl+C (cancel a download, stop a CLI) need it back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import engine.worker  # noqa: E402,F401 (its stand-ins, before a test imports audiocraft)


_started = time.time()


def pytest_terminal_summary(terminalreporter):
    """The installable app's build time and sizes, when this run built it (tests/bundle)."""
    figures = ROOT / "test-artifacts" / "package.txt"
    if figures.exists() and figures.stat().st_mtime > _started:
        terminalreporter.write_line(figures.read_text().strip().splitlines()[-1])


# Markers by place (see pyproject.toml): folders, and the engine modules whose tests run torch.
WORKER_MODULES = {"test_worker", "test_generation", "test_continuation", "test_model_kinds",
                  "test_melody", "test_fast_lm", "test_cli", "test_stems"}


# xdist hands out files in this order (--no-loadscope-reorder): the longest first, so none is
# left to run alone at the end. (The installed app's test runs after the rest: scripts/test.sh.)
ORDER = ("cluster", "faults", "e2e", None)


def pytest_collection_modifyitems(items):
    def place(item):
        folder = Path(str(item.fspath)).parent.name
        return ORDER.index(folder if folder in ORDER else None)
    items.sort(key=place)
    for item in items:
        path = Path(str(item.fspath))
        folder, module = path.parent.name, path.stem
        if folder == "desktop":
            item.add_marker(pytest.mark.gui)
        if folder == "e2e":
            item.add_marker(pytest.mark.e2e)
        if folder in ("e2e", "faults", "bundle"):
            item.add_marker(pytest.mark.slow)
        if folder == "bundle":
            item.add_marker(pytest.mark.bundle)
        if folder == "cluster":
            item.add_marker(pytest.mark.cluster)
        if module in WORKER_MODULES or folder in ("e2e", "faults", "cluster", "bundle"):
            item.add_marker(pytest.mark.worker)


@pytest.fixture(autouse=True)
def cuedeck_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "cuedeck"
    monkeypatch.setenv("CUEDECK_HOME", str(home))
    return home


def _children() -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def no_leftovers():
    """Fail a test that leaves child processes (workers) or threads running."""
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra_children = _children() - children_before
        extra_threads = [t for t in threading.enumerate()
                         if t not in threads_before and t.is_alive() and not t.daemon]
        if not extra_children and not extra_threads:
            return
        time.sleep(0.05)
    pytest.fail(f"test left processes {sorted(extra_children)} or threads {extra_threads} behind")


def run_cli(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    """`cuedeck ARGS` as a user runs it: a fresh process with this test's environment
    (plus `env`)."""
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env={**os.environ, **env})


def use_hf_home(monkeypatch, home: Path) -> Path:
    """Point the Hugging Face cache at `home`/hub: for the processes a test starts (HF_HOME)
    and for this one, whose huggingface_hub read its folders when it was first imported."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    return home / "hub"


def sql(library, query: str):
    """The first value a query gives on `library`'s database, through a connection of its own
    (what any SQLite reader sees)."""
    import sqlite3
    from engine.library import DB_NAME

    with sqlite3.connect(library.root / DB_NAME) as db:
        row = db.execute(query).fetchone()
    return row[0] if row else None


@pytest.fixture
def small_disk(tmp_path):
    """A folder on its own 3 MB tmpfs, for disk-full cases (root only: skipped elsewhere,
    with the reason, and the RLIMIT_FSIZE tests cover the same paths)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a small disk needs root to mount a tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill_disk(folder: Path, leave: int = 0) -> None:
    """Fill the disk holding `folder` until only about `leave` bytes are free."""
    import shutil

    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    assert shutil.disk_usage(folder).free <= leave + 200_000


# -- a stand-in model hub on localhost, serving tiny-music's files as musicgen-small --------

@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """tiny-music's release files (a few MB), built once for the session."""
    from engine.worker import tiny_models

    return tiny_models.build("tiny-music", tmp_path_factory.mktemp("ckpt") / "tiny-music")


def stock(server, checkpoint) -> None:
    """The stand-in hub serves tiny-music's files as musicgen-small, and a text encoder."""
    from engine import models, registry
    from hub_standin import REPO

    for f in registry.CHECKPOINT_FILES:
        server.add(REPO, f, (checkpoint / f).read_bytes())
    for f in models.TEXT_ENCODER_FILES:
        server.add(models.TEXT_ENCODER, f, f"stand-in {f}".encode() * 1000)


@pytest.fixture
def hub(tmp_path, checkpoint, monkeypatch):
    from hub_standin import HubStandIn

    with HubStandIn(tmp_path / "hub") as server:
        stock(server, checkpoint)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        use_hf_home(monkeypatch, tmp_path / "hf")
        yield server




@pytest.fixture
def separator(tmp_path, monkeypatch):
    """A tiny random-weight stem separator in this test's hub cache: for the processes the test
    starts, and for this one (whose huggingface_hub read its cache folder when imported)."""
    from engine.worker import tiny_models
    from hub_standin import COMMIT

    tiny_models.build_separator(use_hf_home(monkeypatch, tmp_path / "hf"), COMMIT)


@pytest.fixture
def window(qtbot):
    """The real main window, shown (closed after the test)."""
    from desktop.main_window import MainWindow
    from desktop.settings import open_settings

    w = MainWindow(open_settings())
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()  # keys reach an active window only, as on a desktop
    qtbot.waitUntil(w.isActiveWindow)
    yield w
    w.close()
