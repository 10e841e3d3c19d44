"""Splitting cues into stems: demucs's real classes and loader on a tiny random-weight HTDemucs
in the hub layout (the `separator` fixture), through the worker as the window and the CLI use
it; the stems read back with soundfile; the separator installed from a stand-in hub and
imported offline."""

import csv
import json
import shutil
import time

import numpy as np
import pytest
import soundfile

from conftest import run_cli, use_hf_home
from engine import exchange, models, registry
from engine import protocol as p
from engine.client import EngineClient
from engine.cue import provenance_line
from engine.errors import Cancelled
from engine.library import Library
from engine.request import GenerationRequest
from hub_standin import COMMIT

RATE = 32000


def add_parent(seconds=3.0, loop=False, seed=4) -> int:
    """A mono cue of a tone over noise, as the worker keeps cues (a loop of 2 bars at 120 BPM)."""
    request = GenerationRequest("brass fanfare", model="tiny-music", candidates=1, duration=seconds, seed=seed,
                                bpm=120 if loop else None, loop=loop, bars=2 if loop else None).validated()
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)
    with Library() as lib:
        return lib.add_batch(request, audio[None, None].astype(np.float32), RATE, [seed], f"job{seed:08d}", "1.3.0")[0].id


def test_a_cue_splits_into_four_stems_of_its_length_and_rate_kept_as_its_children(separator):
    parent = add_parent(seconds=4.0, loop=True)
    done = run_cli("stems", str(parent), "--json")
    assert done.returncode == 0, done.stderr
    made = [json.loads(line) for line in done.stdout.splitlines()]
    assert [m["role"] for m in made] == list(registry.STEM_ROLES)
    with Library() as lib:
        source = lib.get(parent)
        stems = lib.get_many([m["id"] for m in made])
        for stem in stems:
            info = soundfile.info(stem.path)  # an independent reader
            assert (info.frames, info.samplerate, info.channels) == (4 * RATE, RATE, 1)
            assert stem.parent_id == parent and stem.prompt == source.prompt and stem.seed == source.seed
            assert stem.separator == f"demucs 4.1.0, htdemucs ({registry.SEPARATOR} {COMMIT[:8]})"
            assert stem.loop and stem.bars == 2 and stem.measures is not None
            assert f"| {stem.role} stem of cue {parent}, split by demucs 4.1.0" in provenance_line(stem)
            assert stem.path.name == f"{source.path.stem}_{stem.role}.wav"
            assert b"smpl" in stem.path.read_bytes()[:4096]  # a loop's stems loop in a sampler too
        audio = [soundfile.read(s.path, dtype="float32")[0] for s in stems]
        assert all(np.abs(a).max() > 0 for a in audio)
        assert all(not np.allclose(a, b) for i, a in enumerate(audio) for b in audio[i + 1:])
        assert lib.search("drums") == [stems[0]] and lib.stems_of(parent) == stems

    again = run_cli("stems", str(parent), "--json")  # split before: the same stems, no engine
    assert [json.loads(line)["id"] for line in again.stdout.splitlines()] == [m["id"] for m in made]

    with Library() as lib:
        lib.delete(made[3]["id"])  # one gone: splitting again makes a whole new set beside the rest
        assert lib.stems_of(parent) == []
    third = run_cli("stems", str(parent), "--json")
    assert third.returncode == 0, third.stderr
    with Library() as lib:
        newer = lib.stems_of(parent)
        assert len(newer) == 4 and newer[0].job_id != stems[0].job_id
        assert len({c.path for c in newer} | {c.path for c in stems[:3]}) == 7 and all(c.path.is_file() for c in newer)
        lib.delete(parent)  # the stems stay, cues of their own
        orphan = lib.get(newer[0].id)
        assert orphan.parent_id is None and "| drums stem of a cue since deleted, split by" in provenance_line(orphan)


def test_the_worker_splits_as_demucs_itself_does(separator):
    """Separator.separate against demucs's own loader and apply_model, on audio at the
    separator's rate; progress grows to 1 and cancel stops it."""
    import torch
    from demucs.apply import apply_model
    from demucs.pretrained import get_model

    from engine.worker.separation import Separator

    rng = np.random.default_rng(2)
    audio = (0.2 * rng.standard_normal((2, 44100 * 9))).astype(np.float32)  # two of the tiny model's segments
    seen = []
    stems, _ = Separator().separate(audio, 44100, seen.append, lambda: False)
    model = get_model("htdemucs")  # demucs's own path: the hub cache, offline
    mix = torch.from_numpy(audio)
    ref = mix.mean(0)
    expected = apply_model(model, ((mix - ref.mean()) / ref.std())[None], shifts=0, overlap=0.25)[0]
    expected = expected * ref.std() + ref.mean()
    for k, role in enumerate(model.sources):
        np.testing.assert_allclose(stems[role], expected[k].numpy(), atol=2e-4)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    asked = []
    with pytest.raises(Cancelled):
        Separator().separate(audio, 44100, asked.append, lambda: len(asked) >= 1)


def test_a_split_cancelled_in_the_worker_keeps_nothing(separator):
    parent = add_parent(seconds=60.0)
    job_id = exchange.new_job_id()
    with Library() as lib, EngineClient() as engine:
        before = len(lib.search())
        exchange.open_job(job_id)
        engine.submit_split(parent, exchange.stage_whole(lib, parent, job_id), job_id)
        events, deadline = [], time.monotonic() + 120
        while not any(isinstance(e, (p.Cancelled, p.Separated, p.Error)) for e in events):
            assert time.monotonic() < deadline, events
            for event in engine.poll(0.2):
                events.append(event)
                if isinstance(event, p.Progress) and event.fraction > 0:
                    engine.cancel(job_id)
        exchange.discard(job_id)
        assert isinstance(events[-1], p.Cancelled), events[-1]
        assert len(lib.search()) == before and not exchange.job_folder(job_id).exists()
        progress = [e for e in events if isinstance(e, p.Progress)]
        assert [e.fraction for e in progress] == sorted(e.fraction for e in progress)
        assert {e.stage for e in progress} == {"splitting into stems"}


def test_splitting_without_the_separator_says_how_to_install_it(tmp_path, monkeypatch):
    use_hf_home(monkeypatch, tmp_path / "empty")
    parent = add_parent()
    done = run_cli("stems", str(parent))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    for words in ("demucs stem separator", "File › Models", "`cuedeck models install htdemucs`",
                  "`cuedeck models import htdemucs DIR`"):
        assert words in done.stderr
    with Library() as lib:
        assert [c.id for c in lib.search()] == [parent]
    missing = run_cli("stems", "999")
    assert missing.returncode != 0 and "no cue with id 999" in missing.stderr


def test_the_separator_installs_from_the_hub_and_imports_offline(hub, tmp_path, monkeypatch):
    from engine.worker import tiny_models

    built = tmp_path / "built"
    tiny_models.build_separator(built, COMMIT)
    files = built / "models--adefossez--HTDemucs" / "snapshots" / COMMIT
    for file in files.iterdir():
        hub.add(registry.SEPARATOR, file.name, file.read_bytes())
    listed = {m["name"]: m for m in map(json.loads, run_cli("models", "--json").stdout.splitlines())}
    assert listed["htdemucs"]["state"] == "not present" and listed["htdemucs"]["licence"] == "MIT"
    done = run_cli("models", "install", "htdemucs")
    assert done.returncode == 0, done.stderr
    assert registry.separator_present() and models.state(registry.SEPARATOR_MODEL).state == "present"
    parent = add_parent()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests = len(hub.requests)
    split = run_cli("stems", str(parent))
    assert split.returncode == 0, split.stderr
    assert len(hub.requests) == requests  # splitting never touches the network

    removed = run_cli("models", "remove", "htdemucs")
    assert removed.returncode == 0 and not registry.separator_present()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / registry.SEPARATOR_BAG).write_text("models: ['abcd']\n")
    (bad / "abcd.safetensors").write_bytes(b"not weights")
    refused = run_cli("models", "import", "htdemucs", str(bad))
    assert refused.returncode == 2 and "not a safetensors file" in refused.stderr, refused.stderr
    copied = tmp_path / "copied"
    shutil.copytree(files, copied)
    imported = run_cli("models", "import", "htdemucs", str(copied))
    assert imported.returncode == 0, imported.stderr
    assert registry.separator_present() and "present" in imported.stdout


def test_stems_to_tracks_line_up_with_their_cue_and_export_with_their_role(separator, tmp_path):
    import opentimelineio as otio
    import wavinfo

    parent = add_parent(seconds=3.0)
    with Library() as lib, EngineClient() as engine:
        stems = exchange.split(lib, engine, parent)
    assert run_cli("timeline", "new", "Score").returncode == 0
    placed = run_cli("timeline", "add", "Score", str(parent), "--at", "2", "--in", "0.5", "--fade-in", "0.25")
    assert placed.returncode == 0, placed.stderr
    done = run_cli("timeline", "stems", "Score", str(parent), "--json")
    assert done.returncode == 0, done.stderr
    timeline = json.loads(done.stdout)
    assert [t["name"] for t in timeline["tracks"]] == ["Track 1"] + [f"{r} (cue {parent})" for r in registry.STEM_ROLES]
    for track, stem in zip(timeline["tracks"][1:], stems):
        (clip,) = track["clips"]
        assert (clip["cue_id"], clip["at"], clip["start"], clip["fade_in"]) == (stem.id, 2.0, 0.5, 0.25)
    unsplit = add_parent(seed=5)
    refused = run_cli("timeline", "stems", "Score", str(unsplit))
    assert refused.returncode == 2 and f"`cuedeck stems {unsplit}`" in refused.stderr

    exported = run_cli("export", "Score", "--out", str(tmp_path / "out"), "--json")
    assert exported.returncode == 0, exported.stderr
    folder = tmp_path / "out" / "Score"
    for n, role in enumerate(registry.STEM_ROLES, start=2):
        path = folder / f"Score - {n:02d} MX {role} (cue {parent}).wav"  # stems of music: MX
        ixml = wavinfo.WavInfoReader(path).ixml  # an independent reader
        assert [t.name for t in ixml.track_list] == [role]
        assert f"{role} stem of cue {parent}" in ixml.raw_xml.find("USER/NOTES").text
    with open(folder / "provenance.csv", newline="") as f:
        rows = {int(row["id"]): row for row in csv.DictReader(f)}
    assert [(rows[s.id]["role"], rows[s.id]["parent_id"]) for s in stems] == [(r, str(parent)) for r in registry.STEM_ROLES]
    assert rows[stems[0].id]["separator"].startswith("demucs 4.1.0, htdemucs")
    lanes = otio.adapters.read_from_file(str(folder / "Score.otio")).audio_tracks()
    assert [lane.name for lane in lanes][1:] == [f"{r} (cue {parent})" for r in registry.STEM_ROLES]
