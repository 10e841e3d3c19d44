"""The worker process through EngineClient and the protocol, as the CLI and desktop use it."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
import soundfile as sf

from conftest import ROOT
from engine import exchange, processes
from engine import protocol as p
from engine.client import EngineClient
from engine.errors import BadInput, CueDeckError, ModelNotPresent
from engine.library import Library
from engine.request import GenerationRequest

LONG = GenerationRequest("long drone", candidates=8, duration=30.0, seed=1)


@pytest.fixture
def engine():
    with EngineClient() as client:
        yield client


def wait_for(engine, job_id, kinds, timeout=120):
    """Events of `job_id` until one of `kinds` arrives."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in engine.poll(0.1):
            if getattr(event, "job_id", None) == job_id:
                seen.append(event)
                if isinstance(event, kinds):
                    return seen
    raise AssertionError(f"no {kinds} within {timeout} s; saw {seen}")


def test_job_reports_progress_then_its_client_keeps_the_cues(engine, cuedeck_home):
    job = engine.submit(GenerationRequest("warm pad", candidates=3, duration=2.0, seed=4))
    events = wait_for(engine, job, p.Result)
    progress = [e for e in events if isinstance(e, p.Progress)]
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] < 1
    assert [e.stage for e in progress][-2:] == ["decoding", "saving"]
    result = events[-1]
    assert [c.seed for c in result.candidates] == [4, 5, 6] and result.request.seed == 4
    assert result.making.model == "tiny-music" and result.making.device == "cpu"
    with Library() as lib:
        assert lib.search() == []  # the engine never writes the library
        cues = exchange.keep(lib, result)
        for cue in cues:
            row = lib.get(cue.id)
            assert row.sha256 == cue.sha256 and row.job_id == job and row.device == "cpu"
            info = sf.info(row.path)
            assert (info.samplerate, info.channels, info.frames) == (32000, 1, 64000)
    assert [c.seed for c in cues] == [4, 5, 6]
    assert not list((cuedeck_home / "library" / exchange.FOLDER).iterdir())  # the job's audio went with it
    assert not engine.busy


def test_a_frozen_app_starts_its_helpers_from_its_own_executable(tmp_path, monkeypatch, cuedeck_home):
    """A PyInstaller bundle has no Python to run `-m` with: the worker (and every helper)
    starts as the app's own executable in module mode. A stand-in executable that can do
    nothing else runs the worker, which generates."""
    app = tmp_path / "cuedeck-desktop"
    app.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\nsys.frozen = True\n"
                   "from engine.processes import run_module_mode\n"
                   "if not run_module_mode(sys.argv[1:]):\n    raise SystemExit('module mode only')\n")
    app.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(app))
    assert processes.command("engine.cli", "--version") == [str(app), "--cuedeck-module", "engine.cli", "--version"]
    done = subprocess.run(processes.command("engine.cli", "--version"), capture_output=True, text=True)
    assert (done.returncode, done.stdout.split()[0]) == (0, "cuedeck"), done.stderr
    with EngineClient() as client:
        job = client.submit(GenerationRequest("warm pad", candidates=2, duration=1.0, seed=4))
        result = wait_for(client, job, p.Result)[-1]
    assert [c.seed for c in result.candidates] == [4, 5] and result.making.model == "tiny-music"


def test_the_model_is_prepared_while_the_user_types_and_the_job_finds_it_loaded(engine, cuedeck_home):
    request = GenerationRequest("pad", model="tiny-music", candidates=2, duration=1.0, seed=3, precision="int8")
    engine.prepare(replace(request, model="no-such-model"))  # left for its job to say: nothing is sent
    engine.prepare(request)
    log = cuedeck_home / "logs" / "worker.log"
    deadline = time.monotonic() + 120
    while "prepared tiny-music (int8)" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the worker never said it prepared the model"
        time.sleep(0.1)
    result = wait_for(engine, engine.submit(request), p.Result)[-1]
    assert result.request.precision == "int8" and [c.seed for c in result.candidates] == [3, 4]
    assert "preparing" not in log.read_text()  # no failure logged


def test_cancel_stops_the_job_and_writes_nothing(engine, cuedeck_home):
    job = engine.submit(LONG)
    wait_for(engine, job, p.Progress)
    engine.cancel(job)
    events = wait_for(engine, job, (p.Cancelled, p.Result, p.Error))
    assert isinstance(events[-1], p.Cancelled)
    with Library() as lib:
        assert lib.search() == []
    assert list((cuedeck_home / "library" / "audio").iterdir()) == []


def test_killed_worker_fails_the_job_and_the_next_job_gets_a_fresh_worker(engine, cuedeck_home):
    job = engine.submit(LONG)
    wait_for(engine, job, p.Progress)
    first_pid = engine.worker_pid
    os.kill(first_pid, signal.SIGKILL)
    events = wait_for(engine, job, (p.Error, p.Result))
    assert events[-1].kind == "crashed" and "killed" in events[-1].message
    assert not engine.busy
    with Library() as lib:
        assert lib.search() == []
    job = engine.submit(GenerationRequest("after the crash", candidates=1, duration=1.0, seed=2))
    assert isinstance(wait_for(engine, job, (p.Result, p.Error))[-1], p.Result)
    assert engine.worker_pid != first_pid


def test_bad_input_is_refused_before_the_worker_starts(engine):
    with pytest.raises(BadInput, match="candidates"):
        engine.submit(GenerationRequest("x", candidates=9))
    with pytest.raises(ModelNotPresent, match="not ready on this machine"):
        engine.submit(GenerationRequest("x", model="musicgen-small"))
    assert engine.worker_pid is None


def test_worker_validates_what_it_is_sent_itself(cuedeck_home):
    """Straight through the worker's JSON lines: a client of another make gets clear errors."""
    folder = exchange.open_job("raw")
    requests = [p.Generate("raw", replace(GenerationRequest("x"), candidates=99), folder),
                p.Generate("cont", GenerationRequest("x", parent_id=1, duration=4.0), folder),
                p.Generate("away", GenerationRequest("x"), "../elsewhere")]
    worker = subprocess.Popen([sys.executable, "-m", "engine.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    lines = [json.dumps(p.encode(r)) + "\n" for r in requests] + ['{"v": 1, "type": "cancel"}\n']
    worker.stdin.write("".join(lines[-1:] + lines[:-1]).encode())
    worker.stdin.flush()
    events = {}
    while len(events) < len(requests):  # (the test's timeout bounds this)
        event = p.decode(json.loads(worker.stdout.readline()))
        if not isinstance(event, p.Ready):
            events[event.job_id] = event
    worker.stdin.close()
    assert worker.wait(60) == 0
    stderr = worker.stderr.read()
    assert events["raw"].kind == "bad_input" and "candidates" in events["raw"].message
    assert "its client must stage it" in events["cont"].message
    assert "not a plain folder name" in events["away"].message
    assert f"want protocol v{p.VERSION}".encode() in stderr  # the v1 line first: logged and ignored, nothing crashed


def test_protocol_round_trip_of_every_message_and_clear_errors_for_the_rest():
    request = GenerationRequest("x", parent_id=3, duration=6.0, seed=5)
    messages = [p.Generate("j", request, ".j.1.part", p.Conditioning("prompt", "c.f32", 32000, 2, "ab", "cue 3")),
                p.Cancel("j"), p.Prepare(request), p.Shutdown(), p.Ready(7, {"torch": "2"}),
                p.Progress("j", 0.3, "window 1 of 2"), p.Preview("j", 1.0, 32000, 1, ["preview-1.f32"]),
                p.Result("j", request, 32000, [p.Candidate(0, 5, "candidate-1.f32", 192000, 2)],
                         p.Making("tiny-music", "cpu", "1.3.0", "2.1", "ab", "cue 3"), 1.5),
                p.Error("j", "boom", "failed", "musicgen-small"), p.Cancelled("j"), p.Fatal("out of memory"),
                p.Separate("s", 3, ".s.1.part", p.Conditioning("whole", "whole.f32", 32000, 1, "cd", "cue 3")),
                p.Separated("s", 3, 32000, [p.Stem("drums", "stem-drums.f32", 96000, 1, None)], "demucs", "cpu", 2.0)]
    assert {type(m) for m in messages} == set(p.MESSAGES.values())  # every type, none forgotten
    for message in messages:
        assert p.decode(json.loads(json.dumps(p.encode(message)))) == message  # through its JSON form
    for bad, words in [({**p.encode(p.Cancel("j")), "v": 99}, "want protocol v"),
                       ({"v": p.VERSION, "type": "explode"}, "unknown message type"),
                       ({"v": p.VERSION, "type": "progress", "job_id": "j"}, "malformed progress"),
                       ({**p.encode(messages[0]), "request": "x"}, "malformed generate"),
                       ({**p.encode(messages[7]), "candidates": [{"index": 0}]}, "malformed result"),
                       ([1, 2], "unsupported message")]:
        with pytest.raises(p.ProtocolError, match=words):
            p.decode(bad)
    assert issubclass(p.ProtocolError, CueDeckError)
