"""`cuedeck` as a user runs it: separate processes, real worker, real files."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import soundfile as sf

from conftest import run_cli
from engine import analysis
from engine.cue import ranked
from engine.library import Library
from engine.request import GenerationRequest

PROVENANCE = ["prompt", "model", "licence", "audiocraft_version", "cuedeck_version", "top_k",
              "top_p", "temperature", "cfg_coef", "seed", "request_seed", "batch_size",
              "batch_index", "sha256", "created_at", "parent_id", "duration", "sample_rate"]


def generate_json(*args):
    done = run_cli("generate", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("model, rate", [("tiny-music", 32000), ("tiny-sfx", 16000)])
def test_generate_writes_n_readable_files_with_provenance_and_measures(model, rate):
    # (the same request gives the same files: test_generation here, test_cluster across computers)
    first = generate_json("distant thunder", "-n", "3", "-d", "1.5", "--model", model, "--seed", "7")
    assert [c["seed"] for c in first] == [7, 8, 9]
    for rank, cue in enumerate(first, start=1):
        assert set(cue) == {"id", "path", "seed", "duration", "sample_rate", "channels", "sha256",
                            "model", "licence", "parent_id", "rank", "measures"}
        assert cue["rank"] == rank  # no tempo or key wanted: batch order
        assert cue["measures"] == asdict(analysis.measure_files([cue["path"]])[0])  # measured where it was made
        data, file_rate = sf.read(cue["path"], always_2d=True)
        assert file_rate == rate == cue["sample_rate"] and data.shape == (int(1.5 * rate), 1)
        shown = json.loads(run_cli("library", "show", str(cue["id"]), "--json").stdout)
        assert all(shown[k] is not None or k == "parent_id" for k in PROVENANCE)
        assert (shown["prompt"], shown["model"], shown["batch_size"]) == ("distant thunder", model, 3)


def test_plain_output_lists_the_candidates_best_first_and_a_negative_prompt_is_recorded():
    done = run_cli("generate", "click", "-n", "3", "-d", "0.5", "--seed", "1", "--negative", " drums ",
                   "--bpm", "120", "--key", "am")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    assert "seed 1" in done.stdout and ".wav" in done.stdout and " BPM · " not in done.stdout  # 0.5 s: no beat
    ids = [int(line.split()[0]) for line in done.stdout.splitlines()]
    with Library() as lib:
        cues = lib.get_many(ids)
    assert all(c.measures and c.measures.key and f"· {c.measures.key} ·" in done.stdout for c in cues)
    assert ids == [c.id for c in ranked(cues, 120, "A minor")]  # the closest key first
    for cue in cues:  # (what a negative prompt does: test_fast_lm, test_generation)
        assert (cue.negative, cue.target_bpm, cue.target_key) == ("drums", 120, "A minor")


@pytest.mark.parametrize("args, words", [
    (["generate", ""], "prompt is empty"),
    (["generate", "x" * 1001], "1001 characters"),
    (["generate", "pad", "-n", "0"], "candidates"),
    (["generate", "pad", "-n", "9"], "candidates"),
    (["generate", "pad", "-n", "four"], "invalid int value"),
    (["generate", "pad", "-d", "0"], "duration"),
    (["generate", "pad", "-d", "121"], "duration"),
    (["generate", "pad", "--model", "tiny-sfx", "-d", "41"], "duration"),
    (["generate", "pad", "--model", "tiny-magnet", "-d", "11"], "duration"),
    (["generate", "pad", "--continue", "5", "--model", "tiny-magnet"], "cannot continue"),
    (["generate", "pad", "--device", "tpu"], "device is one of"),
    (["generate", "pad", "--temperature", "nan"], "temperature"),
    (["generate", "pad", "--top-p", "nan"], "top-p"),
    (["generate", "pad", "--top-p", "2"], "top-p"),
    (["generate", "pad", "--cfg", "inf"], "cfg"),
    (["generate", "pad", "--negative", "drums", "--cfg", "1"], "raise cfg"),
    (["generate", "pad", "--top-k", "100000"], "top-k"),
    (["generate", "pad", "--seed", "-5"], "seed"),
    (["generate", "pad", "--model", "musicgen-huge"], "unknown model"),
    (["generate", "pad", "--model", "musicgen-small"], "cuedeck models install musicgen-small"),
    (["library", "rate", "1", "7"], "0 to 5"),
    (["library", "show", "12345"], "no cue with id 12345"),
    (["library", "catid", "1", "NOTACAT"], "not a UCS CatID"),
    (["library", "search", "--model", "nope"], "unknown model"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(cuedeck_home, args, words):
    if args[0] == "library":
        with Library() as lib:  # one cue to act on
            request = GenerationRequest("x", candidates=1, duration=1.0, seed=1).validated()
            lib.add_batch(request, np.zeros((1, 1, 32000), np.float32), 32000, [1], "job", "1.3.0")
    before = sorted((p, p.stat().st_size) for p in cuedeck_home.rglob("*")) if cuedeck_home.exists() else None
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    after = sorted((p, p.stat().st_size) for p in cuedeck_home.rglob("*")) if cuedeck_home.exists() else None
    assert after == before


def test_corrupted_library_is_one_line_exit_1(cuedeck_home):
    """A damaged database is a failure, not bad input: the command was right."""
    (cuedeck_home / "library").mkdir(parents=True)
    (cuedeck_home / "library" / "library.sqlite3").write_bytes(b"garbage" * 1000)
    for args in (["generate", "pad"], ["library", "list"]):
        done = run_cli(*args)
        assert done.returncode == 1 and "move it aside" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert (cuedeck_home / "library" / "library.sqlite3").read_bytes() == b"garbage" * 1000


def test_unwritable_library_is_one_line_exit_2(cuedeck_home):
    cuedeck_home.mkdir(parents=True)
    (cuedeck_home / "library").write_text("not a folder")
    done = run_cli("generate", "pad")
    assert done.returncode == 2 and "set CUEDECK_HOME to a writable folder" in done.stderr


def test_library_commands_edit_and_find_cues(cuedeck_home):
    with Library() as lib:
        request = GenerationRequest("rain on tin roof", candidates=2, duration=1.0, seed=3).validated()
        a, b = lib.add_batch(request, np.zeros((2, 1, 32000), np.float32), 32000, [3, 4], "job", "1.3.0")

    def ok(*args):
        done = run_cli("library", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert json.loads(ok("rate", str(a.id), "5", "--json"))["rating"] == 5
    assert json.loads(ok("tag", str(a.id), "wet", "Metal", "--json"))["tags"] == ["metal", "wet"]
    assert json.loads(ok("untag", str(a.id), "metal", "--json"))["tags"] == ["wet"]
    assert json.loads(ok("note", str(b.id), "too busy", "--json"))["notes"] == "too busy"
    assert json.loads(ok("catid", str(b.id), "rainmetl", "--json"))["catid"] == "RAINMetl"
    found = lambda *args: [json.loads(line)["id"] for line in ok("search", *args, "--json").splitlines()]
    assert found("wet") == [a.id]
    assert found("busy") == [b.id]
    assert found("--min-rating", "4") == [a.id]
    assert found("--category", "RAIN") == [b.id]
    assert found("--tag", "wet", "--model", "tiny-music") == [a.id]
    assert str(b.id) in ok("list") and "★★★★★" in ok("list")
    assert json.loads(ok("catid", str(b.id), "--clear", "--json"))["catid"] is None
    assert json.loads(ok("catid", str(a.id), "--suggested", "--json"))["catid"] == "RAINMetl"
    ok("delete", str(a.id))
    assert not a.path.exists() and found() == [b.id]


def test_models_and_version():
    models = [json.loads(line) for line in run_cli("models", "--json").stdout.splitlines()]
    by_name = {m["name"]: m for m in models}
    assert by_name["tiny-music"]["present"] and not by_name["musicgen-large"]["present"]
    assert by_name["musicgen-large"]["licence"] == "CC-BY-NC-4.0"
    assert "cuedeck 0.1.0" in run_cli("--version").stdout
    assert "AMBForst" in run_cli("ucs", "forest").stdout
    assert run_cli("ucs", "--suggest", "rain on a tin roof").stdout.split()[0] == "RAINMetl"
