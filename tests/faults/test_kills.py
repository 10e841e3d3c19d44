"""Fault injection: SIGKILL at random and at aimed moments of generation, export and library
edits, each followed by the invariants that matter to a user: the database passes SQLite's
integrity check, every row's file is there with its sha256, no file is without its row, no
`.part` or journal outlives the next start, and the next operation succeeds.

Aimed kills use the `engine.faults` points (`CUEDECK_FAULT=NAME`); random ones kill after a
delay drawn from a fixed seed. What each trial found goes to test-artifacts/faults.json.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import ROOT, run_cli, sql
from engine import exchange
from engine import protocol as p
from engine.client import EngineClient
from engine.library import Library
from engine.request import GenerationRequest

FIGURES: dict[str, Counter] = defaultdict(Counter)  # kind → outcome → trials


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    (folder / "faults.json").write_text(json.dumps(FIGURES, indent=2, sort_keys=True))


def raw_state(home: Path) -> str:
    """Where a kill of a generation landed, read without opening the library (which would
    repair it): `before files` (nothing in place), `files without rows` (the window between
    renaming the files into place and committing their rows), or `after commit`."""
    root = home / "library"
    files = {f"audio/{f.name}" for f in (root / "audio").glob("*.wav")}
    with sqlite3.connect(f"file:{root / 'library.sqlite3'}?mode=ro", uri=True) as db:
        rows = {r[0] for r in db.execute("SELECT path FROM cues")}
    if files - rows:
        return "files without rows"
    return "after commit" if rows else "before files"


def assert_sound(home: Path, folder: str = "library") -> None:
    """The invariants, checked as the next start sees the library; no leftovers in `folder`
    of the home ("" for all of it: after the next generation, which sweeps models too)."""
    with Library() as lib:  # opening it is the next start: it finishes the killed writer's work
        assert sql(lib, "PRAGMA integrity_check") == "ok"
        report = lib.check()
        assert report.ok, report
        for cue in lib.search():
            assert soundfile.info(str(cue.path)).frames == round(cue.duration * cue.sample_rate)
    leftovers = [*(home / folder).rglob("*.part"), *(home / folder).rglob(".journal-*")]
    assert not leftovers, leftovers


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return found


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # dead, waiting for its parent to read its status
            return True
        time.sleep(0.05)
    return False


def generating_worker(proc: subprocess.Popen, home: Path) -> int:
    """The pid of `proc`'s worker, once it streams audio (its job runs)."""
    deadline = time.monotonic() + 120
    while not list((home / "library" / ".exchange").glob(".*.part/preview-*.f32")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return children_of(proc.pid)[0]


def cli(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after(proc: subprocess.Popen, delay: float) -> str:
    try:
        proc.wait(timeout=delay)
        outcome = "finished before the kill"
    except subprocess.TimeoutExpired:
        proc.kill()
        outcome = "killed"
    proc.communicate()
    return outcome


# -- generation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("point, landed", [
    ("tiny-model.built", "before files"),
    ("library.files-in-place", "files without rows"),
    ("library.committed", "after commit"),
])
def test_generation_killed_at_each_window_leaves_a_sound_library(cuedeck_home, point, landed):
    done = run_cli("generate", "rain on a tin roof", "-n", "3", "-d", "1", "--seed", "3", CUEDECK_FAULT=point)
    if point.startswith("library."):  # the library's one writer, the CLI process, is killed
        assert done.returncode == -signal.SIGKILL, done.stderr
    else:  # the worker is killed; the CLI says so
        assert done.returncode == 1 and "stopped unexpectedly" in done.stderr, done.stderr
    assert raw_state(cuedeck_home) == landed
    if point == "tiny-model.built":
        assert list((cuedeck_home / "models").glob(".tiny-music.*.part"))  # the kill left its build
    FIGURES["generation, aimed"][f"{point}: {landed}"] += 1
    assert_sound(cuedeck_home)
    with Library() as lib:
        kept = len(lib.search())
    assert kept == (3 if landed == "after commit" else 0)
    if point == "tiny-model.built":  # the next generation sweeps the half-built model and builds it whole
        again = run_cli("generate", "rain on a tin roof", "-n", "2", "-d", "1", "--seed", "3")
        assert again.returncode == 0, again.stderr
        assert_sound(cuedeck_home, "")


def test_generation_killed_at_random_moments_leaves_a_sound_library(cuedeck_home):
    """The worker killed while it generates or hands its candidates over (its client, the
    library's writer, keeps what arrives whole)."""
    rng = random.Random(9)
    with Library() as lib, EngineClient() as engine:
        for trial in range(4):
            request = GenerationRequest("wind", candidates=8, duration=4.0, seed=trial)
            job = engine.submit(request)
            seen: list = []

            def finished() -> bool:
                return any(isinstance(e, (p.Result, p.Error)) and e.job_id == job for e in seen)

            def stage() -> str | None:
                stages = [e.stage for e in seen if isinstance(e, p.Progress)]
                return stages[-1] if stages else None

            aim_at_saving = trial % 2 == 1  # half in the save, half while generating
            deadline = time.monotonic() + 120
            while not finished() and stage() != "saving" and (aim_at_saving or stage() is None):
                seen += engine.poll(0.2)
                assert time.monotonic() < deadline
            time.sleep(rng.uniform(0, 0.1) if aim_at_saving else rng.uniform(0, 1.0))
            worker = engine.worker_pid
            if not finished() and worker:
                os.kill(worker, signal.SIGKILL)
            while not finished():
                seen += engine.poll(0.2)
            results = [e for e in seen if isinstance(e, p.Result)]
            if results:
                exchange.keep(lib, results[0])
            else:
                exchange.discard(job)
            landed = "finished" if results else raw_state(cuedeck_home)
            FIGURES["generation, random"][landed] += 1
            assert_sound(cuedeck_home)


def test_a_killed_cli_takes_its_stopped_worker_with_it(cuedeck_home):
    proc = cli("generate", "low drone", "-n", "4", "-d", "20")
    worker = generating_worker(proc, cuedeck_home)
    os.kill(worker, signal.SIGSTOP)
    proc.kill()
    proc.communicate()
    assert gone(worker), "the worker outlived its client"
    FIGURES["generation, client killed"]["worker gone"] += 1
    assert_sound(cuedeck_home)


@pytest.mark.parametrize("how", ["two Ctrl+C", "SIGTERM", "SIGHUP"])
def test_a_stopped_worker_never_hangs_the_cli(cuedeck_home, how):
    proc = cli("generate", "low drone", "-n", "4", "-d", "20")
    worker = generating_worker(proc, cuedeck_home)
    os.kill(worker, signal.SIGSTOP)
    if how == "two Ctrl+C":
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
    else:
        proc.send_signal(getattr(signal, how))
    _, err = proc.communicate(timeout=20)  # would hang before
    assert gone(worker)
    if how == "two Ctrl+C":  # (two signals close together may arrive as one: then the deadline stops it)
        lines = err.strip().splitlines()
        assert proc.returncode == 130 and len(lines) == 1, err
        assert lines[0] in ("cuedeck: cancelled; the engine was stopped and nothing was written",
                            "cuedeck: cancelled; the engine did not answer, so it was stopped; nothing was written",
                            "cuedeck: interrupted"), err
    else:
        assert proc.returncode == 128 + getattr(signal, how) and "Traceback" not in err
    assert_sound(cuedeck_home)


# -- export -------------------------------------------------------------------------------------

@pytest.fixture
def timeline_to_export(cuedeck_home):
    """Three 20 s cues on three tracks: an export long enough to be killed halfway."""
    rng = np.random.default_rng(4)
    with Library() as lib:
        lib.create_timeline("Reel 1")
        timeline = lib.timeline("Reel 1")
        for track in range(3):
            request = GenerationRequest(f"layer {track}", candidates=1, duration=1, seed=track)
            audio = (0.1 * rng.standard_normal((1, 1, 20 * 32000))).astype(np.float32)
            cue = lib.add_batch(request, audio, 32000, [track], f"job{track}", "1.3.0")[0]
            if track:
                timeline = timeline.add_track()
            from engine.timeline import Clip
            timeline = timeline.add_clip(track, Clip(cue.id, track * 0.5, 0.0, cue.duration, cue.duration))
        lib.save_timeline(timeline)
    return "Reel 1"


def assert_exports_whole(out: Path) -> None:
    """Every export folder there is complete; no hidden part survives the next export."""
    assert not list(out.glob(".*")), list(out.glob(".*"))
    for folder in out.iterdir():
        files = sorted(f.name for f in folder.iterdir())
        assert files == ["Reel 1 - 01 MX Track 1.wav", "Reel 1 - 02 MX Track 2.wav", "Reel 1 - 03 MX Track 3.wav",
                         "Reel 1 - Mix.wav", "Reel 1 - cue sheet.csv", "Reel 1.aaf", "Reel 1.otio", "provenance.csv",
                         "provenance.json"], files
        assert soundfile.info(str(folder / "Reel 1 - Mix.wav")).frames == 21 * 96000


def test_export_killed_at_random_and_aimed_moments_leaves_whole_folders_or_nothing(
        cuedeck_home, timeline_to_export, tmp_path):
    out = tmp_path / "exports"
    args = ("export", timeline_to_export, "--out", str(out), "--rate", "96000")
    started = time.monotonic()
    first = cli(*args)
    assert first.wait(60) == 0
    length = time.monotonic() - started
    rng = random.Random(11)
    for trial in range(10):
        FIGURES["export, random"][kill_after(cli(*args), rng.uniform(0.2, length))] += 1
    for point in ("export.file-written", "export.before-rename"):
        proc = cli(*args, CUEDECK_FAULT=point)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert list(out.glob(".*.part"))  # the kill left its half export
        FIGURES["export, aimed"][point] += 1
    done = run_cli(*args)  # the next export sweeps what the killed ones left
    assert done.returncode == 0, done.stderr
    assert_exports_whole(out)
    assert_sound(cuedeck_home)


def test_concurrent_exports_of_one_timeline_into_one_folder_all_succeed(cuedeck_home, timeline_to_export, tmp_path):
    out = tmp_path / "exports"
    procs = [cli("export", timeline_to_export, "--out", str(out)) for _ in range(3)]
    results = [(proc.wait(120), proc.communicate()) for proc in procs]
    assert [rc for rc, _ in results] == [0, 0, 0], results
    assert sorted(f.name for f in out.iterdir()) == ["Reel 1", "Reel 1 (2)", "Reel 1 (3)"]
    assert sorted(out_err[0].strip() for _, out_err in results) == [str(out / n) for n in ("Reel 1", "Reel 1 (2)", "Reel 1 (3)")]


# -- library edits ------------------------------------------------------------------------------

def test_library_edits_killed_at_random_moments_lose_nothing(cuedeck_home, timeline_to_export):
    with Library() as lib:
        ids = [c.id for c in lib.search()]
    rng = random.Random(13)
    edits = [lambda i: ("library", "tag", str(i), f"t{rng.randrange(100)}"),
             lambda i: ("library", "note", str(i), "x" * rng.randrange(1, 5000)),
             lambda i: ("library", "rate", str(i), str(rng.randrange(6))),
             lambda i: ("timeline", "add", timeline_to_export, str(i), "--track", "1", "--at", str(rng.randrange(60))),
             lambda i: ("library", "delete", str(i))]
    for trial in range(20):
        edit = rng.choice(edits)
        args = edit(rng.choice(ids[1:]))  # the first cue stays for the aimed delete below
        outcome = kill_after(cli(*args), rng.uniform(0.05, 0.6))
        FIGURES["library edits, random"][f"{args[1]}: {outcome}"] += 1
        assert_sound(cuedeck_home)
    proc = cli("library", "delete", str(ids[0]), CUEDECK_FAULT="library.delete-row-gone")
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert raw_state(cuedeck_home) == "files without rows"  # the row is gone, its file not yet
    FIGURES["library edits, aimed"]["library.delete-row-gone"] += 1
    assert_sound(cuedeck_home)
    assert run_cli("library", "list").returncode == 0
