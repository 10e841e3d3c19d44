"""Timecode: a timeline's start on the picture's clock, at each frame rate (drop-frame too),
against values worked out by hand; exported files spot to it (bext TimeReference read back
by wavinfo, the .otio start time by OpenTimelineIO), each with its own UMID and loudness."""

import csv
import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pyloudnorm
import pytest
import soundfile
from wavinfo import WavInfoReader

from conftest import run_cli
from engine import bwf, timecode
from engine.errors import BadInput
from engine.library import Library
from engine.request import GenerationRequest
from engine.timeline import Timeline

# 01:00:00:00 at each rate: its frame count, and the samples since midnight at 48 kHz.
#   23.976: 86 400 frames × 1001/24000 s = 3603.6 s → 172 972 800
#   29.97 DF: 108 000 labels − 2 × (60 − 6) dropped = 107 892 frames × 1001/30000 s
#             = 3599.9964 s → 172 799 827.2 → 172 799 827
HOUR = {"23.976": (86400, 172_972_800), "24": (86400, 172_800_000), "25": (90000, 172_800_000),
        "29.97 DF": (107892, 172_799_827), "29.97 NDF": (108000, 172_972_800), "30": (108000, 172_800_000)}


@pytest.mark.parametrize("rate", list(timecode.RATES))
def test_an_hour_at_each_rate(rate):
    label = "01:00:00;00" if rate == "29.97 DF" else "01:00:00:00"
    frames, samples = HOUR[rate]
    assert timecode.frames(label, rate) == frames
    assert timecode.samples_since_midnight(label, rate, 48000) == samples


def test_drop_frame_skips_two_labels_a_minute_but_each_tenth():
    df = "29.97 DF"
    assert timecode.frames("00:00:59;29", df) == 1799
    assert timecode.frames("00:01:00;02", df) == 1800  # ;00 and ;01 do not exist at minute 1
    assert timecode.frames("00:10:00;00", df) == 17982  # minute 10 keeps them: 10 × 1800 − 9 × 2
    assert timecode.frames("00:10:00;01", df) == 17983
    assert timecode.checked("1:00:00:00", df) == "01:00:00;00"
    for bad, words in [("00:01:00;00", "does not exist in drop-frame"), ("00:00:00:30", "frames 00–29"),
                       ("25:00:00:00", "hours 00–23"), ("1 hour", "HH:MM:SS:FF")]:
        with pytest.raises(BadInput, match=words):
            timecode.frames(bad, df)
    with pytest.raises(BadInput, match="frame rate is one of"):
        Timeline("t").set_timecode("01:00:00:00", "48")
    assert timecode.frames("00:00:01:24", "25") == 49 and timecode.frames("00:00:00:23", "23.976") == 23


def test_exports_spot_to_the_start_timecode_and_each_file_has_its_umid_and_loudness(tmp_path):
    rate = 32000
    t = np.arange(2 * rate) / rate
    request = GenerationRequest("low drone", model="tiny-music", candidates=1, duration=2, seed=1)
    with Library() as lib:
        cue = lib.add_batch(request, (0.1 * np.sin(2 * np.pi * 110 * t))[None, None].astype(np.float32), rate, [1],
                            "job00000001", "1.3.0")[0]
    assert run_cli("timeline", "new", "Reel 2").returncode == 0
    for track in ("1", "2"):
        assert run_cli("timeline", "add", "Reel 2", str(cue.id), "--track", track).returncode == 0
    done = run_cli("timeline", "timecode", "Reel 2", "01:00:00;00", "--fps", "29.97 DF", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["start_timecode"], shown["frame_rate"]) == ("01:00:00;00", "29.97 DF")
    refused = run_cli("timeline", "timecode", "Reel 2", "00:01:00;00")
    assert refused.returncode == 2 and "does not exist in drop-frame" in refused.stderr

    folder = Path(run_cli("export", "Reel 2", "--out", str(tmp_path)).stdout.strip())
    umids = set()
    for wav in sorted(folder.glob("*.wav")):
        bext = WavInfoReader(wav).bext  # an independent reader
        assert bext.time_reference == 172_799_827  # 01:00:00;00 at 48 kHz, worked out above
        assert bext.umid[:16] == bwf.UMID_LABEL + b"\x13" + bytes(3) and any(bext.umid[16:32])
        umids.add(bext.umid)
        audio, rate = soundfile.read(wav)
        assert bext.loudness_value == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(audio), abs=0.01)
    assert len(umids) == 3  # unique per file; every file's loudness, stems too
    start = otio.adapters.read_from_file(str(folder / "Reel 2.otio")).global_start_time
    assert start.value == 107892 and start.rate == pytest.approx(30000 / 1001)


@pytest.mark.parametrize("rate", list(timecode.RATES))
def test_labels_are_the_inverse_of_frame_counts(rate):
    for count in list(range(0, 20000, 7)) + list(range(17970, 18000)) + [1798, 1799, 1800, 107892]:
        assert timecode.frames(timecode.label(count, rate), rate) == count
    if timecode.frame_rate(rate).rate == timecode.frame_rate(rate).nominal:  # whole rates: an hour is an hour
        assert timecode.at("01:00:00:00", rate, 3600) == "02:00:00:00"


def test_the_cue_sheet_gives_each_clip_its_cue_id_timecodes_usage_and_licence(tmp_path):
    rate = 32000
    request = GenerationRequest("tense strings", model="tiny-music", candidates=1, duration=2, seed=2)
    sfx = GenerationRequest("door slam", model="tiny-sfx", candidates=1, duration=1, seed=3)
    with Library() as lib:
        music = lib.add_batch(request, np.full((1, 1, 2 * rate), 0.1, np.float32), rate, [2], "job00000002",
                              "1.3.0")[0].id
        door = lib.add_batch(sfx, np.full((1, 1, 16000), 0.1, np.float32), 16000, [3], "job00000003", "1.3.0")[0].id
    assert run_cli("timeline", "new", "R1").returncode == 0
    for args in ([str(music), "--at", "60"], [str(door), "--track", "2", "--at", "0.5"]):
        assert run_cli("timeline", "add", "R1", *args).returncode == 0
    assert run_cli("timeline", "timecode", "R1", "01:00:00;00", "--fps", "29.97 DF").returncode == 0
    folder = Path(run_cli("export", "R1", "--out", str(tmp_path)).stdout.strip())
    with open(folder / "R1 - cue sheet.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # 0.5 s is frame 14.985 → 15; 60 s is 1798.2 frames → 1798, the label 01:00:59;28 (minute 60 drops
    # nothing at its start); 62 s is 1858.1 → 1858: 01:01:02;00 (01:01:00;00 and ;01 do not exist)
    assert [(r["cue_id"], r["title"], r["in"], r["out"], r["duration"], r["usage"], r["cue"]) for r in rows] == [
        ("1M01", "door slam", "01:00:00;15", "01:00:01;15", "0:01", "SFX", str(door)),
        ("1M02", "tense strings", "01:00:59;28", "01:01:02;00", "0:02", "BI", str(music))]
    assert {r["licence"] for r in rows} == {"MIT (CueDeck test model: untrained random weights, produces noise)"}
