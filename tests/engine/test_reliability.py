"""Full disks, file-size and memory limits, damaged cue files and a library that cannot be
written: each ends in one line a user can act on, and nothing half-written is left behind.
(Kills are in tests/faults.)"""

import json
import resource
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, fill_disk, run_cli, sql
from engine import cli, library as library_module
from engine.errors import BadInput, DiskFull, GenerationFailed, LibraryError
from engine.library import Library
from engine.request import MAX_SEED, GenerationRequest
from engine.timeline import Clip

RATE = 16000


def add_cues(lib, n=2, seconds=2.0, seed=1):
    request = GenerationRequest("hail on glass", model="tiny-sfx", candidates=n, duration=seconds, seed=seed).validated()
    audio = (0.2 * np.random.default_rng(seed).standard_normal((n, 1, int(seconds * RATE)))).astype(np.float32)
    return lib.add_batch(request, audio, RATE, request.candidate_seeds(), f"job{seed}", "1.3.0")


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def snapshot(home) -> str:
    """Everything the library holds, to show that a refused command changed nothing."""
    with sqlite3.connect(home / "library" / "library.sqlite3") as db:
        rows = [list(db.execute(f"SELECT * FROM {t} ORDER BY 1")) for t in ("cues", "tags", "timelines")]
    files = sorted(p.name for p in (home / "library" / "audio").iterdir())
    return json.dumps([rows, files], default=str)


@pytest.fixture
def timeline(cuedeck_home):
    with Library() as lib:
        cue = add_cues(lib, n=1, seconds=4.0)[0]
        lib.create_timeline("Spot")
        lib.save_timeline(lib.timeline("Spot").add_clip(0, Clip(cue.id, 0.0, 0.0, cue.duration, cue.duration)))
    return cue


# -- full disks, file-size limit, memory --------------------------------------------------------

def test_export_to_a_full_disk_is_refused_before_writing(small_disk, timeline):
    fill_disk(small_disk, leave=200_000)
    done = run_cli("export", "Spot", "--out", str(small_disk))
    assert done.returncode == 1
    line = one_line(done)
    assert "not enough disk space" in line and str(small_disk) in line and "MB free" in line
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    done = run_cli("library", "export", str(timeline.id), "--out", str(small_disk), "--rate", "192000")
    assert done.returncode == 1 and "not enough disk space" in one_line(done)


def test_a_disk_that_fills_during_export_leaves_nothing(small_disk, timeline, monkeypatch):
    """The estimate passed, then another program took the space: ENOSPC mid-write."""
    from engine import export, resources

    monkeypatch.setattr(resources, "require_space", lambda *a: None)  # as if the disk filled after the check
    fill_disk(small_disk, leave=300_000)
    with Library() as lib, pytest.raises(DiskFull, match="the disk is full; nothing was written"):
        export.export_timeline(lib, "Spot", small_disk)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_the_file_size_limit_ends_an_export_in_one_line(timeline, tmp_path):
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))  # noqa: E731
    done = subprocess.run([sys.executable, "-m", "engine.cli", "export", "Spot", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, preexec_fn=limit)
    assert done.returncode == 1 and "file-size limit" in one_line(done)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_export_too_big_for_memory_is_refused_with_an_estimate(cuedeck_home, tmp_path):
    with Library() as lib:
        cue = add_cues(lib, n=1)[0]
        t = lib.create_timeline("Three hours")
        for track in range(8):
            t = t if track == 0 else t.add_track()
            t = t.add_clip(track, Clip(cue.id, 3 * 3600 - 10.0, 0.0, cue.duration, cue.duration))
        lib.save_timeline(t)
    done = run_cli("export", "Three hours", "--out", str(tmp_path), "--rate", "192000", "--bits", "32f")
    line = one_line(done)
    assert done.returncode == 1 and "of memory" in line and "lower rate" in line, line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")
def test_memory_a_worker_freed_goes_back_to_the_system():
    """glibc keeps freed heap memory until asked: the worker asks after each job and after
    building a decoder (the weights it replaced)."""
    script = """
import resource
from engine import resources
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
blocks = [bytearray(100_000) for _ in range(3000)]  # 300 MB in heap chunks
pin = bytearray(100_000)  # above them: glibc cannot shrink the heap from its top
del blocks
before = resident()
resources.give_back_memory()
print(before - resident())
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(done.stdout) > 250e6


@pytest.mark.parametrize("free", [0, 40_000])
def test_a_library_on_a_full_disk_says_so_and_stays_intact(small_disk, monkeypatch, free):
    monkeypatch.setenv("CUEDECK_HOME", str(small_disk / "home"))
    with Library() as lib:
        cue = add_cues(lib, n=1)[0]
        lib.create_timeline("Before")
    fill_disk(small_disk, leave=free)
    for args in (["library", "tag", str(cue.id), "wet"], ["library", "note", str(cue.id), "n" * 9000],
                 ["timeline", "new", "After"], ["library", "rate", str(cue.id), "4"]):
        done = run_cli(*args)
        line = one_line(done)
        assert done.returncode == 1 and "is full; free some space" in line, (args, line)
        assert "unusable" not in line and "move it aside" not in line
    (small_disk / "filler").unlink()
    with Library() as lib:
        assert sql(lib, "PRAGMA integrity_check") == "ok"
        assert lib.get(cue.id).sha256 == cue.sha256 and lib.timeline_names() == ["Before"]
        assert lib.add_tags(cue.id, ["wet"]).tags == ("wet",)


def test_busy_and_read_only_libraries_are_told_apart_from_damaged_ones(cuedeck_home):
    with Library() as lib:
        root = lib.root
    holder = sqlite3.connect(root / "library.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(root / "library.sqlite3", timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as busy:
        other.execute("BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")
    readonly = sqlite3.connect(f"file:{root / 'library.sqlite3'}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as ro:
        readonly.execute("CREATE TABLE x (y)")
    for conn in (holder, other, readonly):
        conn.close()
    assert "is busy" in str(library_module._sql_error(busy.value, root))
    read_only = library_module._sql_error(ro.value, root)
    assert isinstance(read_only, LibraryError) and "cannot be written" in str(read_only)


# -- damaged cue files --------------------------------------------------------------------------

def damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[:100]))
    elif how == "four bytes":
        data[-400:-396] = b"\x00\x00\x80\x7f"  # an infinity in the middle of the audio
        path.write_bytes(bytes(data))
    elif how == "header":
        data[20:24] = b"\xff\xff\xff\xff"
        path.write_bytes(bytes(data))
    elif how == "missing":
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "four bytes", "header", "missing"])
def test_a_damaged_cue_is_refused_by_name_in_export_and_reported_by_check(timeline, tmp_path, how):
    damage(timeline.path, how)
    out = tmp_path / "exports"
    for args in (["export", "Spot", "--out", str(out / "a")],
                 ["library", "export", str(timeline.id), "--out", str(out / "b")]):
        done = run_cli(*args)
        line = one_line(done)
        assert done.returncode == 2 and f"cue {timeline.id}" in line, line
        assert ("lost its file" if how == "missing" else "is damaged") in line
    assert [list(d.iterdir()) for d in out.iterdir()] == [[], []]  # nothing written
    check = run_cli("library", "check", "--json")
    assert check.returncode == 1
    report = json.loads(check.stdout)
    if how == "missing":
        assert report["missing"] == [timeline.id]
    else:
        assert [d["id"] for d in report["damaged"]] == [timeline.id]


def test_library_check_lists_and_repairs_missing_and_orphan_files(cuedeck_home):
    with Library() as lib:
        kept, lost = add_cues(lib)
    lost.path.unlink()
    orphan = kept.path.with_name("stray.wav")
    orphan.write_bytes(kept.path.read_bytes())
    done = run_cli("library", "check")
    assert done.returncode == 1
    assert f"missing  cue {lost.id}" in done.stdout and f"orphan   {orphan}" in done.stdout
    done = run_cli("library", "check", "--repair")
    assert done.returncode == 0 and not orphan.exists()
    with Library() as lib:
        assert [c.id for c in lib.search()] == [kept.id] and lib.check().ok
    assert run_cli("library", "check").returncode == 0


def test_continuing_a_truncated_cue_is_refused_before_generating(cuedeck_home):
    with Library() as lib:
        cue = add_cues(lib, n=1, seconds=3.0)[0]
    damage(cue.path, "truncated")
    done = run_cli("generate", "more hail", "--model", "tiny-sfx", "-n", "1", "-d", "4", "--continue", str(cue.id))
    assert done.returncode == 2 and f"cue {cue.id}" in one_line(done) and "is damaged" in done.stderr
    with Library() as lib:
        assert [c.id for c in lib.search()] == [cue.id]


def test_non_finite_audio_never_enters_the_library(cuedeck_home):
    request = GenerationRequest("x", model="tiny-sfx", candidates=2, duration=1, seed=1).validated()
    audio = np.zeros((2, 1, RATE), np.float32)
    audio[1, 0, 100] = np.nan
    with Library() as lib:
        with pytest.raises(GenerationFailed, match="invalid samples"):
            lib.add_batch(request, audio, RATE, [1, 2], "job", "1.3.0")
        assert lib.search() == [] and list(lib.audio_dir.iterdir()) == []


# -- odd values that used to end in a traceback -------------------------------------------------

def test_seeds_near_the_maximum_are_refused_so_every_stored_seed_can_be_asked_again():
    with pytest.raises(BadInput, match="with 4 candidates"):
        GenerationRequest("x", candidates=4, seed=MAX_SEED - 2).validated()
    assert GenerationRequest("x", candidates=4, seed=MAX_SEED - 3).validated().candidate_seeds()[-1] == MAX_SEED
    assert all(GenerationRequest("x", candidates=8).validated().seed <= MAX_SEED - 7 for _ in range(200))


def test_tags_with_commas_are_refused(cuedeck_home):
    with Library() as lib:
        cue = add_cues(lib, n=1)[0]
        with pytest.raises(BadInput, match="contains a comma"):
            lib.add_tags(cue.id, ["rain, heavy"])


def test_an_unexpected_error_is_one_line_and_a_logged_traceback(cuedeck_home, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Library, "search", broken)
    assert cli.main(["library", "list"]) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith("cuedeck: unexpected error: RuntimeError: a bug (details in ") and "\n" not in line
    logged = (cuedeck_home / "logs" / "cli.log").read_text()
    assert "Traceback" in logged and "library list" in logged


# -- the worker --------------------------------------------------------------------------------

def test_a_worker_that_cannot_start_says_why(cuedeck_home):
    """Under a memory limit the worker fails importing torch; the CLI (no torch) still runs."""
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))  # noqa: E731
    done = subprocess.run([sys.executable, "-m", "engine.cli", "generate", "pad", "-n", "1", "-d", "1"],
                          capture_output=True, text=True, cwd=ROOT, preexec_fn=limit, timeout=120)
    line = one_line(done)
    assert done.returncode == 1 and "out of memory" in line and "killed" not in line, line


def test_previews_live_in_a_folder_of_their_job_and_go_with_it(cuedeck_home):
    import os

    from engine import exchange
    from engine import protocol as p
    from engine.client import EngineClient

    root = cuedeck_home / "library" / exchange.FOLDER
    root.mkdir(parents=True)
    live = root / f".other-client-job.{os.getpid()}.part"  # another client's, still running
    dead = root / ".old-job.999999999.part"                 # a client that was killed
    for folder in (live, dead):
        folder.mkdir()
        (folder / "x.f32").write_bytes(b"\0" * 8)
    with Library() as lib, EngineClient() as engine:  # opening the library sweeps the dead one
        cues = exchange.generate(lib, engine, GenerationRequest("pad", candidates=2, duration=2.5, seed=1))
        events, seen = [], set()
        job = engine.submit(GenerationRequest("pad", candidates=2, duration=2.5, seed=2))
        while not any(isinstance(e, p.Result) for e in events):
            for event in engine.poll(0.2):
                events.append(event)
                if isinstance(event, p.Preview):  # each file is there when it is announced
                    seen |= {(exchange.job_folder(job) / f).is_file() for f in event.files}
        exchange.keep(lib, events[-1])
    assert cues and seen == {True}
    assert sorted(f.name for f in root.iterdir()) == [live.name]  # the job's own went with it
