"""Every CLI command × odd values (empty, huge, negative, NaN, non-UTF-8, int64 overflow,
path-like, 10,000 characters): one line, exit 1 or 2, and the library exactly as it was."""

import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from engine import cli
from engine.library import Library
from engine.request import GenerationRequest
from engine.timeline import Clip

HUGE = "99999999999999999999"  # past int64
LONG = "x" * 10_000
NON_UTF8 = "caf\udce9"  # what Python makes of the bytes b"caf\xe9" in argv

CASES = [
    # cue ids, wherever a command takes one
    *[(cmd, value) for cmd in (["library", "show", "{}"], ["library", "rate", "{}", "3"],
                               ["library", "tag", "{}", "wet"], ["library", "untag", "{}", "wet"],
                               ["library", "note", "{}", "n"], ["library", "catid", "{}", "AMBForst"],
                               ["library", "delete", "{}"], ["library", "export", "{}", "--out", "{out}"],
                               ["timeline", "add", "T", "{}"])
      for value in ("0", "-1", "9223372036854775808", HUGE, "NaN", "1.5", "", LONG, "../1", NON_UTF8, "424242")],
    *[(["generate", "pad", "--continue", "{}"], v) for v in ("0", "-1", HUGE, "NaN", "", NON_UTF8)],
    # text
    *[(["library", "tag", "1", "{}"], v) for v in ("", "   ", "a,b", LONG, NON_UTF8)],
    *[(["library", "note", "1", "{}"], v) for v in (LONG + "x", NON_UTF8)],
    *[(["library", "catid", "1", "{}"], v) for v in ("NOPE", LONG, NON_UTF8, "../x")],
    *[(["timeline", "new", "{}"], v) for v in ("", "\t", "a/b", LONG, "é" * 70, NON_UTF8, "T")],
    *[([cmd, "{}"], v) for cmd in ("show", "delete") for v in ("nope", NON_UTF8, LONG)],
    *[(["export", "{}", "--out", "{out}"], v) for v in ("nope", NON_UTF8, LONG, "")],
    *[(["library", "search", "--" + flag, "{}"], v) for flag in ("model", "catid", "category", "tag")
      for v in ("NOPE,", NON_UTF8)],
    *[(["library", "search", "{}"], v) for v in (NON_UTF8,)],
    *[(["generate", "{}"], v) for v in ("", "   ", LONG, NON_UTF8)],
    *[(["generate", "pad", "--model", "{}"], v) for v in ("nope", NON_UTF8, "", "../tiny-music")],
    *[(["generate", "pad", "--melody", "{}"], v) for v in ("tune.wav", "cue:1")],  # tiny-music takes none
    # numbers
    *[(["library", "rate", "1", "{}"], v) for v in ("-1", "6", "NaN", "1.5", HUGE, "")],
    *[(["library", "search", "--min-rating", "{}"], v) for v in ("-1", "6", "NaN", HUGE)],
    *[(["library", "list", "--limit", "{}"], v) for v in ("-1", "NaN", HUGE)],
    *[(["generate", "pad", flag, "{}"], v) for flag, values in [
        ("-n", ("0", "9", "-1", "NaN", HUGE)), ("-d", ("0", "-1", "NaN", "inf", "1e400", "10000")),
        ("--seed", ("-1", "4294967296", HUGE, "NaN")), ("--top-k", ("-1", "100000", "NaN")),
        ("--top-p", ("-0.1", "1.5", "NaN")), ("--temperature", ("-1", "NaN", "inf", "11")),
        ("--cfg", ("-1", "NaN", "31")), ("--precision", ("fp8", "")), ("--device", ("tpu", NON_UTF8)),
        ("--bpm", ("0", "-1", "NaN", "inf", "1e400", "1000")), ("--key", ("", "H", "A dorian", NON_UTF8, LONG)),
        ("--bars", ("1", "0", "-1", "NaN", HUGE)), ("--beats-per-bar", ("0", "17", "NaN"))]
      for v in values],
    *[(["generate", "pad", "--loop", flag, "{}"], v) for flag, values in [
        ("--bars", ("0", "65", HUGE)), ("-d", ("0.1", "200")), ("--continue", ("1",))] for v in values],
    *[(["library", "search", flag, "{}"], v) for flag, values in [
        ("--bpm", ("fast", "", "-5", "NaN", "1-2-3", LONG)), ("--key", ("Z minor", "A dorian", NON_UTF8)),
        ("--tone", ("shiny", "")), ("--sort", ("colour", ""))] for v in values],
    *[(["export", "T", "--out", "{out}", flag, "{}"], v) for flag, values in [
        ("--rate", ("0", "-1", "1000000", "NaN", HUGE)), ("--bits", ("8", "")), ("--format", ("mp3", NON_UTF8))]
      for v in values],
    *[(["timeline", "add", "T", "1", flag, "{}"], v) for flag, values in [
        ("--track", ("0", "-1", "33", HUGE)), ("--at", ("-1", "NaN", "inf", "1e400", "99999")),
        ("--gain", ("NaN", "100")), ("--fade-in", ("-1", "NaN")), ("--in", ("NaN", "-1")), ("--out", ("-1", "9"))]
      for v in values],
    # places that cannot be written
    (["export", "T", "--out", "{}"], "/proc/cuedeck"),
    (["library", "export", "1", "--out", "{}"], "/dev/null/x"),
]


@pytest.fixture
def library(cuedeck_home):
    with Library() as lib:
        request = GenerationRequest("rain", model="tiny-sfx", candidates=1, duration=1, seed=1).validated()
        cue = lib.add_batch(request, np.full((1, 1, 16000), 0.1, np.float32), 16000, [1], "job", "1.3.0")[0]
        lib.save_timeline(lib.create_timeline("T").add_clip(0, Clip(cue.id, 0.0, 0.0, 1.0, 1.0)))
    return cuedeck_home


def snapshot(home) -> str:
    with sqlite3.connect(home / "library" / "library.sqlite3") as db:
        rows = [list(db.execute(f"SELECT * FROM {t} ORDER BY 1")) for t in ("cues", "tags", "timelines")]
    return json.dumps([rows, sorted(p.name for p in (home / "library" / "audio").iterdir())], default=str)


def run(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as e:  # argparse refuses by exiting
        return e.code


@pytest.mark.parametrize("command, value", CASES, ids=lambda x: ascii(x)[:40] if isinstance(x, str) else " ".join(x)[:40])
def test_an_odd_value_is_one_line_and_changes_nothing(library, tmp_path, capsys, command, value):
    argv = [value if part == "{}" else part.replace("{out}", str(tmp_path / "out")) for part in command]
    before = snapshot(library)
    code = run(argv)
    out, err = capsys.readouterr()
    assert code in (1, 2), (argv[:6], code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cuedeck") and "Traceback" not in err, err
    assert snapshot(library) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_non_utf8_bytes_on_a_real_command_line_are_refused_in_one_line(library):
    for args in ([b"timeline", b"new", b"caf\xe9"], [b"library", b"tag", b"1", b"\xff\xfe"],
                 [b"generate", b"caf\xe9 au lait", b"-n", b"1"]):
        done = subprocess.run([sys.executable.encode(), b"-m", b"engine.cli", *args], capture_output=True, cwd=ROOT)
        err = done.stderr.decode("utf-8", "replace").strip()
        assert done.returncode == 2 and len(err.splitlines()) == 1 and "not valid UTF-8" in err, err
