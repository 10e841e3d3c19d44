"""Timelines built through the CLI and exported; the results read back by independent
readers: soundfile (audio), wavinfo (bext and iXML), opentimelineio (.otio)."""

import csv
import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile
from wavinfo import WavInfoReader

from conftest import run_cli
from engine.library import Library
from engine.mixdown import fade_curve
from engine.request import GenerationRequest
from engine.timeline import Clip

RATE = 32000


def add_cue(lib: Library, audio: np.ndarray, prompt: str, seed: int) -> int:
    """A cue with known audio [channels, samples], stored the way the worker stores cues."""
    request = GenerationRequest(prompt, model="tiny-music", candidates=1, duration=1, seed=seed)
    return lib.add_batch(request, audio[None].astype(np.float32), RATE, [seed], f"job{seed:08d}", "1.3.0")[0].id


@pytest.fixture
def cues():
    """A mono noise cue (3 s), a stereo tone cue (2 s) and a tagged door cue with a CatID."""
    rng = np.random.default_rng(1)
    t = np.arange(2 * RATE) / RATE
    with Library() as lib:
        noise = add_cue(lib, 0.3 * rng.standard_normal((1, 3 * RATE)), "rain on a tin roof", 1)
        tone = add_cue(lib, np.stack([0.2 * np.sin(2 * np.pi * 220 * t), 0.1 * np.sin(2 * np.pi * 330 * t)]),
                       "low drone, wide", 2)
        door = add_cue(lib, 0.5 * rng.standard_normal((1, RATE)), "heavy wooden door slam", 3)
        lib.set_catid(door, "DOORWood")
        lib.add_tags(door, ["door", "impact"])
        lib.rate(door, 4)
        return {"noise": noise, "tone": tone, "door": door}


def cli(*args) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def build_scene(cues) -> None:
    cli("timeline", "new", "Scene 12")
    cli("timeline", "add", "Scene 12", str(cues["noise"]), "--track", "1", "--at", "0.5", "--gain", "-6")
    cli("timeline", "add", "Scene 12", str(cues["tone"]), "--track", "2", "--at", "1", "--in", "0.5",
        "--out", "1.5", "--fade-in", "0.25", "--fade-out", "0.25")
    cli("timeline", "add", "Scene 12", str(cues["door"]), "--track", "2", "--at", "3")


def source(cue_id: int) -> np.ndarray:
    with Library() as lib:
        return soundfile.read(lib.get(cue_id).path, dtype="float32", always_2d=True)[0]


def test_a_known_mix_comes_back_sample_for_sample(cues, tmp_path):
    build_scene(cues)
    shown = json.loads(cli("timeline", "show", "Scene 12", "--json"))
    assert [len(t["clips"]) for t in shown["tracks"]] == [1, 2]
    folder = Path(cli("export", "Scene 12", "--out", str(tmp_path), "--rate", str(RATE), "--bits", "32f").strip())

    mix, rate = soundfile.read(folder / "Scene 12 - Mix.wav", dtype="float32", always_2d=True)
    stem1, _ = soundfile.read(folder / "Scene 12 - 01 MX Track 1.wav", dtype="float32", always_2d=True)
    stem2, _ = soundfile.read(folder / "Scene 12 - 02 MX Track 2.wav", dtype="float32", always_2d=True)
    assert rate == RATE and mix.shape == stem1.shape == stem2.shape == (4 * RATE, 2)  # to the door's end, stereo

    expected1 = np.zeros((4 * RATE, 2), np.float32)
    expected1[RATE // 2:RATE // 2 + 3 * RATE] = source(cues["noise"]) * 10 ** (-6 / 20)  # mono on both sides
    expected2 = np.zeros((4 * RATE, 2), np.float32)
    tone = source(cues["tone"])[RATE // 2:RATE * 3 // 2].copy()
    ramp = fade_curve(RATE // 4)[:, None]
    tone[:RATE // 4] *= ramp
    tone[-RATE // 4:] *= ramp[::-1]
    expected2[RATE:2 * RATE] = tone
    expected2[3 * RATE:] = source(cues["door"])
    np.testing.assert_allclose(stem1, expected1, atol=1e-6)
    np.testing.assert_allclose(stem2, expected2, atol=1e-6)
    np.testing.assert_allclose(mix, expected1 + expected2, atol=1e-6)
    assert tone[0, 0] == pytest.approx(0, abs=1e-3)  # the fade starts from silence


def test_default_export_is_48k_24bit_with_bext_ixml_otio_and_provenance(cues, tmp_path):
    build_scene(cues)
    done = run_cli("export", "Scene 12", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "LUFS" in done.stderr and "peak" in done.stderr  # loudness and peak of the mix reported
    folder = Path(done.stdout.strip())
    wavs = sorted(folder.glob("*.wav"))
    assert [w.name for w in wavs] == ["Scene 12 - 01 MX Track 1.wav", "Scene 12 - 02 MX Track 2.wav", "Scene 12 - Mix.wav"]
    for wav in wavs:
        info = soundfile.info(wav)
        assert (info.samplerate, info.subtype, info.frames, info.channels) == (48000, "PCM_24", 4 * 48000, 2)
        meta = WavInfoReader(wav)
        assert meta.bext.originator == "CueDeck" and meta.bext.version == 2
        assert meta.bext.originator_date and meta.bext.originator_time
        assert "CueDeck" in meta.bext.coding_history and "F=48000,W=24" in meta.bext.coding_history
        assert "tiny-music" in meta.bext.description
        user = meta.ixml.raw_xml.find("USER")
        assert "tiny-music" in user.find("LIBRARY").text
    door_stem = WavInfoReader(wavs[1]).ixml.raw_xml.find("USER")
    assert door_stem.find("KEYWORDS").text == "door, impact"
    assert "seed 3" in door_stem.find("NOTES").text and "heavy wooden door slam" in door_stem.find("DESCRIPTION").text
    mix, _ = soundfile.read(wavs[2])
    assert np.abs(mix[: 24000]).max() == 0  # nothing before the first clip at 0.5 s

    timeline = otio.adapters.read_from_file(str(folder / "Scene 12.otio"))
    tracks = list(timeline.tracks)
    assert [t.name for t in tracks] == ["Track 1", "Track 2"]
    clips = [list(t.find_clips()) for t in tracks]
    assert [len(c) for c in clips] == [1, 2]
    starts = [c.range_in_parent().start_time.to_seconds() for c in clips[1]]
    assert starts == pytest.approx([1.0, 3.0])
    assert clips[1][0].source_range.duration.to_seconds() == pytest.approx(1.0)
    for clip in clips[0] + clips[1]:
        assert (folder / clip.media_reference.target_url).is_file()  # relative paths that resolve

    with open(folder / "provenance.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["id"]) for r in rows] == sorted(cues.values())
    assert {r["model"] for r in rows} == {"tiny-music"} and all(r["licence"] and r["seed"] for r in rows)
    doc = json.loads((folder / "provenance.json").read_text())
    assert doc["sample_rate"] == 48000 and doc["bits"] == "24" and len(doc["cues"]) == 3
    assert doc["cues"][2]["prompt"] == "heavy wooden door slam" and doc["cues"][2]["catid"] == "DOORWood"


def test_flac_and_16_bit_exports(cues, tmp_path):
    build_scene(cues)
    folder = Path(cli("export", "Scene 12", "--out", str(tmp_path), "--format", "flac", "--bits", "16",
                      "--rate", "44100").strip())
    info = soundfile.info(folder / "Scene 12 - Mix.flac")
    assert (info.format, info.subtype, info.samplerate, info.frames) == ("FLAC", "PCM_16", 44100, 4 * 44100)
    with soundfile.SoundFile(folder / "Scene 12 - Mix.flac") as f:
        assert "tiny-music" in f.comment and f.album == "Scene 12"
    again = Path(cli("export", "Scene 12", "--out", str(tmp_path), "--format", "flac").strip())
    assert again.name == "Scene 12 (2)"  # a second export never overwrites the first


def test_muted_tracks_stay_out_and_solo_wins(cues, tmp_path):
    build_scene(cues)
    with Library() as lib:
        lib.save_timeline(lib.timeline("Scene 12").set_track(1, solo=True))
    folder = Path(cli("export", "Scene 12", "--out", str(tmp_path), "--rate", str(RATE), "--bits", "32f").strip())
    assert sorted(p.name for p in folder.glob("*.wav")) == ["Scene 12 - 01 MX Track 2.wav", "Scene 12 - Mix.wav"]
    mix, _ = soundfile.read(folder / "Scene 12 - Mix.wav", dtype="float32")
    assert np.abs(mix[RATE // 2:RATE]).max() == 0  # the noise track is not in the mix


def test_a_single_cue_exports_under_its_ucs_name_with_its_metadata(cues, tmp_path):
    path = Path(cli("library", "export", str(cues["door"]), "--out", str(tmp_path)).strip())
    assert path.name == f"DOORWood_Heavy Wooden Door Slam {cues['door']}_CueDeck_tiny-music.wav"
    user = WavInfoReader(path).ixml.raw_xml.find("USER")
    fields = {f: user.find(f).text for f in ("CATID", "CATEGORY", "SUBCATEGORY", "RATING", "KEYWORDS")}
    assert fields == {"CATID": "DOORWood", "CATEGORY": "DOORS", "SUBCATEGORY": "WOOD", "RATING": "4",
                      "KEYWORDS": "door, impact"}
    info = soundfile.info(path)
    assert (info.samplerate, info.subtype, info.frames) == (RATE, "PCM_24", RATE)
    plain = Path(cli("library", "export", str(cues["noise"]), "--out", str(tmp_path), "--bits", "32f").strip())
    assert plain.name.startswith("rain-on-a-tin-roof_1_") and soundfile.info(plain).subtype == "FLOAT"


def _bad(*args) -> str:
    done = run_cli(*args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_bad_exports_say_why_and_leave_no_folder_behind(cues, tmp_path):
    out = tmp_path / "out"
    cli("timeline", "new", "Empty")
    assert "has no clips" in _bad("export", "Empty", "--out", str(out))
    assert "no timeline named 'Nope'" in _bad("export", "Nope", "--out", str(out))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "cannot write to" in _bad("export", "Empty", "--out", str(blocker / "sub"))
    assert "FLAC holds 16 or 24 bits" in _bad("export", "Empty", "--out", str(out), "--format", "flac", "--bits", "32f")
    assert "bits is 16, 24 or 32f" in _bad("export", "Empty", "--out", str(out), "--bits", "8")

    build_scene(cues)
    with Library() as lib:  # a clip reaching past its cue's end (the cue is 3 s long)
        long_clip = Clip(cues["noise"], 0.0, 0.0, 5.0, 5.0)
        lib.save_timeline(lib.timeline("Scene 12").add_clip(0, long_clip))
        door = lib.get(cues["door"])
    assert f"cue {cues['noise']}, which is only 3.000 s long" in _bad("export", "Scene 12", "--out", str(out))
    with Library() as lib:
        t = lib.timeline("Scene 12")
        lib.save_timeline(t.remove_clip(0, 1))
    door.path.unlink()
    message = _bad("export", "Scene 12", "--out", str(out))
    assert f"cue {cues['door']} ('heavy wooden door slam')" in message and "lost its file" in message
    assert not out.exists() or not any(out.iterdir())  # no partial export folder, no temporary one


def test_bad_timeline_edits_from_the_command_line(cues):
    cli("timeline", "new", "Cut")
    assert "already exists" in _bad("timeline", "new", "cut")
    assert "inside cue" in _bad("timeline", "add", "Cut", str(cues["door"]), "--out", "9")
    assert "no cue with id 999" in _bad("timeline", "add", "Cut", "999")
    assert "numbered from 1" in _bad("timeline", "add", "Cut", str(cues["door"]), "--track", "0")
    assert "a timeline name cannot be empty" in _bad("timeline", "new", " ")
    assert json.loads(cli("timeline", "show", "Cut", "--json"))["tracks"][0]["clips"] == []


def test_a_commercial_delivery_refuses_non_commercial_weights_and_every_export_names_its_licences(cues, tmp_path):
    t = np.arange(RATE) / RATE
    with Library() as lib:  # as if made with musicgen-small, whose weights are CC-BY-NC-4.0
        request = GenerationRequest("string swell", model="musicgen-small", candidates=1, duration=1, seed=9)
        nc = lib.add_batch(request, (0.1 * np.sin(2 * np.pi * 220 * t))[None, None].astype(np.float32), RATE, [9],
                           "job00000009", "1.3.0")[0].id
    build_scene(cues)
    cli("timeline", "add", "Scene 12", str(nc), "--track", "1", "--at", "3.5")
    out = tmp_path / "out"
    out.mkdir()
    refused = run_cli("export", "Scene 12", "--out", str(out), "--commercial")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert f"CC-BY-NC-4.0 (non-commercial: cue {nc})" in refused.stderr and "MIT" not in refused.stderr
    assert list(out.iterdir()) == []  # nothing written
    single = run_cli("library", "export", str(nc), "--out", str(out), "--commercial")
    assert single.returncode == 2 and "commercial delivery cannot use" in single.stderr
    done = json.loads(cli("export", "Scene 12", "--out", str(out), "--json"))
    licence = "MIT (CueDeck test model: untrained random weights, produces noise)"
    assert done["licences"] == {licence: sorted(cues.values()), "CC-BY-NC-4.0": [nc]}
    fine = run_cli("library", "export", str(cues["door"]), "--out", str(out), "--commercial")
    assert fine.returncode == 0, fine.stderr
