"""The worker process through EngineClient and the protocol, as the CLI and desktop use it."""

import json
import os
import signal
import time

import pytest
import soundfile as sf

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


def test_job_reports_progress_then_cues_written_to_the_library(engine):
    job = engine.submit(GenerationRequest("warm pad", candidates=3, duration=2.0, seed=4))
    events = wait_for(engine, job, p.Result)
    progress = [e for e in events if isinstance(e, p.Progress)]
    fractions = [e.fraction for e in progress]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] < 1
    assert [e.stage for e in progress][-2:] == ["decoding", "saving"]
    result = events[-1]
    assert [c["seed"] for c in result.cues] == [4, 5, 6]
    with Library() as lib:
        for cue in result.cues:
            row = lib.get(cue["id"])
            assert row.sha256 == cue["sha256"] and row.job_id == job
            info = sf.info(row.path)
            assert (info.samplerate, info.channels, info.frames) == (32000, 1, 64000)
    assert not engine.busy


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


def test_worker_validates_requests_itself(engine):
    engine.start()
    engine._jobs.append("raw")
    engine._send(p.Generate("raw", {**GenerationRequest("x").to_dict(), "candidates": 99}))
    error = wait_for(engine, "raw", p.Error)[-1]
    assert error.kind == "bad_input" and "candidates" in error.message


def test_protocol_round_trip_of_every_message_and_clear_errors_for_the_rest():
    messages = [p.Generate("j", {"prompt": "x"}), p.Cancel("j"), p.Shutdown(), p.Ready(7, {"torch": "2"}),
                p.Progress("j", 0.3, "window 1 of 2"), p.Preview("j", 1.0, 32000, 1, ["/a.f32"]),
                p.Result("j", [{"id": 1}], 1.5), p.Error("j", "boom", "failed", "musicgen-small"),
                p.Cancelled("j"), p.Fatal("out of memory")]
    assert {type(m) for m in messages} == set(p.MESSAGES.values())  # every type, none forgotten
    for message in messages:
        assert p.decode(json.loads(json.dumps(p.encode(message)))) == message  # through its JSON form
    for bad, words in [({**p.encode(p.Cancel("j")), "v": 99}, "want protocol v"),
                       ({"v": p.VERSION, "type": "explode"}, "unknown message type"),
                       ({"v": p.VERSION, "type": "progress", "job_id": "j"}, "malformed progress"),
                       ([1, 2], "unsupported message")]:
        with pytest.raises(p.ProtocolError, match=words):
            p.decode(bad)
    assert issubclass(p.ProtocolError, CueDeckError)
