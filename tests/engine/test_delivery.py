"""Delivery: loudness to a spec (BS.1770-4 true peak, EBU Tech 3342 loudness range), the
true-peak limiter, C2PA content credentials and `cuedeck verify`. Read back by independent
readers: pyloudnorm and scipy (levels), c2pa's Reader, wavinfo and soundfile (files)."""

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile
from scipy.signal import resample_poly
from wavinfo import WavInfoReader

from conftest import run_cli
from engine import bwf, credentials, loudness
from test_export import RATE, build_scene, cli, cues  # noqa: F401 (cues: a fixture)

t48 = np.arange(48000 * 5) / 48000


def independent_true_peak_db(audio: np.ndarray) -> float:
    """scipy's own 4× polyphase interpolation (a different filter from annex 2's)."""
    return 20 * np.log10(np.abs(resample_poly(audio.astype(np.float64), 4, 1, axis=0)).max())


def test_true_peak_finds_the_peak_between_samples():
    # a quarter-rate tone 45° off the samples: every sample at 0.707 of its true amplitude
    tone = 0.5 * np.sin(2 * np.pi * 12000 * t48 + np.pi / 4)[:, None].astype(np.float32)
    assert 20 * np.log10(np.abs(tone).max()) == pytest.approx(20 * np.log10(0.5) - 3.01, abs=0.01)
    assert loudness.levels(tone, 48000).true_peak_db == pytest.approx(20 * np.log10(0.5), abs=0.1)
    rng = np.random.default_rng(3)
    music = (0.3 * np.sin(2 * np.pi * 220 * t48) * np.exp(-(t48 % 0.5) * 4))[:, None] + \
        0.05 * rng.standard_normal((len(t48), 2))
    for audio in (tone, music.astype(np.float32), (0.1 * rng.standard_normal((48000 * 3, 2))).astype(np.float32)):
        measured = loudness.true_peak(audio)
        # the shortcut (only samples that could hold the peak) equals the filter run everywhere
        everywhere = loudness._oversampled_peaks(audio, 0.0)[0].max()
        assert measured == pytest.approx(max(everywhere, np.abs(audio).max()), rel=1e-9)
        assert 20 * np.log10(measured) == pytest.approx(independent_true_peak_db(audio), abs=0.15)


def test_loudness_range_and_the_loudest_moments():
    """A −20 dBFS 1 kHz sine reads −23 LUFS; 10 s at that and 10 s 10 dB lower, twice, spread
    10 LU (EBU Tech 3342); a 1 s burst in silence is −23 LUFS momentary, 4.8 LU less over 3 s."""
    t = np.arange(48000 * 40) / 48000
    level = np.where((t // 10) % 2 == 0, 0.1, 0.1 / np.sqrt(10))
    steps = (level * np.sin(2 * np.pi * 1000 * t))[:, None].astype(np.float32)
    found = loudness.levels(steps, 48000)
    assert found.range_lu == pytest.approx(10.0, abs=0.3)
    assert found.integrated == pytest.approx(pyloudnorm.Meter(48000).integrated_loudness(steps.astype(np.float64)),
                                             abs=0.01)
    assert found.max_momentary == pytest.approx(-23.0, abs=0.1)
    burst = np.zeros((48000 * 6, 1), np.float32)
    burst[48000 * 2:48000 * 3, 0] = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(48000) / 48000)
    found = loudness.levels(burst, 48000)
    assert found.max_momentary == pytest.approx(-23.0, abs=0.1)
    assert found.max_short_term == pytest.approx(-23.0 + 10 * np.log10(1 / 3), abs=0.1)
    silent = loudness.levels(np.zeros((48000, 2), np.float32), 48000)
    assert silent.integrated is None and silent.range_lu is None and silent.to_dict()["true_peak_dbtp"] is None


def test_the_limiter_holds_the_true_peak_and_leaves_quiet_audio_alone():
    rng = np.random.default_rng(4)
    hot = (np.sin(2 * np.pi * 440 * t48) * (0.3 + 0.9 * (rng.random(len(t48)) > 0.999)))[:, None]
    hot = np.repeat(hot, 2, axis=1).astype(np.float32)
    hot[:, 1] *= 0.8
    ceiling = 10 ** (-1 / 20)
    assert loudness.true_peak(hot) > ceiling
    before = hot.copy()
    assert loudness.limit(hot, 48000, ceiling)
    assert loudness.true_peak(hot) <= ceiling * (1 + 1e-6)
    assert independent_true_peak_db(hot) <= -1 + 0.15
    changed = np.abs(hot - before).max(axis=1) > 1e-6
    assert changed.mean() < 0.5  # only around the peaks
    quiet = 0.1 * before
    assert not loudness.limit(quiet, 48000, ceiling) and np.array_equal(quiet, 0.1 * before)


def test_an_export_delivered_to_r128_is_signed_and_reads_back(cues, tmp_path):  # noqa: F811
    import c2pa

    build_scene(cues)
    report = json.loads(cli("export", "Scene 12", "--out", str(tmp_path), "--loudness", "ebu-r128", "--json"))
    folder = Path(report["folder"])
    mix_path = folder / "Scene 12 - Mix.wav"
    mix, rate = soundfile.read(mix_path, always_2d=True)
    assert pyloudnorm.Meter(rate).integrated_loudness(mix) == pytest.approx(-23.0, abs=0.1)
    assert independent_true_peak_db(mix) <= -1 + 0.15
    stems = [soundfile.read(folder / f"Scene 12 - 0{n} MX Track {n}.wav", always_2d=True)[0] for n in (1, 2)]
    if not report["limited"]:  # the stems took the mix's gain: they still sum to it
        np.testing.assert_allclose(stems[0] + stems[1], mix, atol=1e-5)
    levels = report["levels"]["Scene 12 - Mix.wav"]
    assert levels["integrated_lufs"] == pytest.approx(-23.0, abs=0.1) and levels["true_peak_dbtp"] <= -1.0
    bext = WavInfoReader(mix_path).bext
    assert bext.loudness_value == pytest.approx(levels["integrated_lufs"], abs=0.01)
    assert bext.loudness_range == pytest.approx(levels["loudness_range_lu"], abs=0.01)
    assert bext.max_true_peak == pytest.approx(levels["true_peak_dbtp"], abs=0.01)
    assert bext.max_momentary_loudness == pytest.approx(levels["max_momentary_lufs"], abs=0.01)
    delivery = json.loads((folder / "provenance.json").read_text())["delivery"]
    assert delivery["loudness"] == "ebu-r128" and delivery["levels"]["Scene 12 - Mix.wav"] == levels

    for path in [mix_path, folder / "Scene 12 - 01 MX Track 1.wav", folder / "Scene 12 - 02 MX Track 2.wav"]:
        with open(path, "rb") as f, c2pa.Reader("audio/wav", f) as reader:
            assert reader.get_validation_state() == "Valid"  # valid, its signer untrusted (a local authority)
            failures = [r["code"] for r in reader.get_validation_results()["activeManifest"].get("failure", [])]
            assert failures == ["signingCredential.untrusted"]
            manifest = reader.get_active_manifest()
        actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]
        assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"].endswith(
            "trainedAlgorithmicMedia")
        assert manifest["claim_generator_info"][0]["name"] == "CueDeck"
        assert WavInfoReader(path).bext.description and soundfile.info(path).frames == len(mix)
    found = credentials.read(mix_path)
    assert found.state == "valid" and not found.trusted and "not one this reader trusts" in found.text()
    assert sorted(c["cue"] for c in found.provenance["cues"]) == sorted(cues.values())  # the mix lists them all
    assert {c["weights_licence"] for c in found.provenance["cues"]} == {"MIT (CueDeck test model: untrained "
                                                                       "random weights, produces noise)"}
    assert "rain on a tin roof" in {c.get("prompt") for c in found.provenance["cues"]}

    tampered = bytearray(mix_path.read_bytes())  # one sample changed
    tampered[len(tampered) // 2] ^= 0x01
    (tmp_path / "changed.wav").write_bytes(bytes(tampered))
    changed = credentials.read(tmp_path / "changed.wav")
    assert changed.state == "invalid" and "assertion.dataHash.mismatch" in changed.problems


def test_private_unsigned_custom_and_flac_deliveries(cues, tmp_path):  # noqa: F811
    build_scene(cues)
    private = json.loads(cli("export", "Scene 12", "--out", str(tmp_path), "--private", "--format", "flac",
                             "--loudness", "custom", "--lufs", "-16", "--true-peak", "-2", "--json"))
    mix = Path(private["folder"]) / "Scene 12 - Mix.flac"
    audio, rate = soundfile.read(mix, always_2d=True)
    assert pyloudnorm.Meter(rate).integrated_loudness(audio) == pytest.approx(-16.0, abs=0.1)
    assert independent_true_peak_db(audio) <= -2 + 0.15
    found = credentials.read(mix)
    assert found.state == "valid" and all("prompt" not in c for c in found.provenance["cues"])
    unsigned = json.loads(cli("export", "Scene 12", "--out", str(tmp_path), "--unsigned", "--json"))
    assert credentials.read(Path(unsigned["folder"]) / "Scene 12 - Mix.wav").state == "none"
    single = Path(cli("library", "export", str(cues["door"]), "--out", str(tmp_path), "--loudness",
                      "streaming-14").strip())
    assert credentials.read(single).state == "valid"
    assert pyloudnorm.Meter(RATE).integrated_loudness(soundfile.read(single)[0]) == pytest.approx(-14, abs=0.1)
    for args, says in [(["--loudness", "custom"], "needs a target"), (["--loudness", "loud"], "invalid choice"),
                       (["--loudness", "custom", "--lufs", "-16", "--true-peak", "3"], "true-peak ceiling")]:
        bad = run_cli("export", "Scene 12", "--out", str(tmp_path / "x"), *args)
        assert bad.returncode == 2 and says in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_a_signed_wav_holds_for_any_manifest_size_and_bit_depth(tmp_path):
    """CueDeck hashes and places the C2PA chunk itself: a manifest of odd length (a padded
    chunk) and of even length both read valid, and a change anywhere outside the chunk
    (the bext as much as the audio) makes them invalid."""
    audio = (0.1 * np.random.default_rng(0).standard_normal((4801, 2))).astype(np.float32)
    parities = set()
    for n, bits in enumerate(["16", "24", "32f", "24"]):
        path = tmp_path / f"cue{'x' * n}.wav"
        meta = bwf.Metadata("a signed file", datetime(2026, 1, 1), [])
        bwf.write(path, audio, 48000, bits, "wav", meta, credentials.Signing(
            credentials.manifest(path.name, [], True), credentials.identity()))
        content = path.read_bytes()
        chunk = content.rindex(b"C2PA")
        parities.add(int.from_bytes(content[chunk + 4:chunk + 8], "little") % 2)
        assert credentials.read(path).state == "valid", bits
        assert soundfile.read(path, always_2d=True)[0].shape == audio.shape
        assert WavInfoReader(path).bext.description == "a signed file"
        for where in (content.index(b"a signed file"), len(content) // 2):
            changed = bytearray(content)
            changed[where] ^= 0x01
            (tmp_path / "changed.wav").write_bytes(bytes(changed))
            assert credentials.read(tmp_path / "changed.wav").state == "invalid"
    assert parities == {0, 1}


def test_signing_with_your_own_certificate(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    made = credentials._new_identity()  # as if issued to you
    (mine / "me.pem").write_bytes(made.chain)
    (mine / "me.key").write_bytes(made.key)
    assert "CueDeck's local authority" in cli("credentials")
    assert "CueDeck signer" in cli("credentials", "use", str(mine / "me.pem"), str(mine / "me.key"))
    assert not credentials.identity().local
    (tmp_path / "bad.key").write_text("not a key")
    bad = run_cli("credentials", "use", str(mine / "me.pem"), str(tmp_path / "bad.key"))
    assert bad.returncode == 2 and "c2pa refuses to sign" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert "local authority" in cli("credentials", "local") and credentials.identity().local


def test_verify_renders_a_cue_again_and_compares(tmp_path):
    """A cue made by the real engine (tiny-music, on the CPU in fp32), exported, then
    verified from the file: its credentials hold and the second render is bit-identical.
    A changed library file differs; what cannot be rendered bit for bit here says why."""
    from engine.library import Library

    done = run_cli("generate", "low rumble", "-n", "2", "-d", "1", "--seed", "40", "--json")
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout.splitlines()[1])  # seed 41, the second of a batch of two
    exported = cli("library", "export", str(second["id"]), "--out", str(tmp_path)).strip()
    checked = run_cli("verify", exported, "--json")
    assert checked.returncode == 0, checked.stderr + checked.stdout
    file_report, cue_report = [json.loads(line) for line in checked.stdout.splitlines()]
    assert file_report["verdict"] == "valid" and cue_report == {
        "verdict": "same", "cue_id": second["id"], "file": None, "detail": cue_report["detail"]}
    assert "seed 41" in cue_report["detail"]

    with Library() as lib:  # as if made in int8: not bit-exact, so not compared
        lib._db.execute("UPDATE cues SET precision = 'int8' WHERE id = ?", (second["id"] - 1,))
        lib._db.commit()
    path = Path(second["path"])
    data = bytearray(path.read_bytes())
    data[-4:] = np.float32(0.5).tobytes()  # the library's file changed after it was made
    path.write_bytes(bytes(data))
    everything = run_cli("verify", "--all")
    assert everything.returncode == 3
    lines = sorted(everything.stdout.splitlines())
    assert "cannot reproduce here: made in int8" in lines[0] and "differs" in lines[1] and "damaged" in lines[1]
    assert run_cli("verify").returncode == 2 and run_cli("verify", str(tmp_path / "none.wav")).returncode == 2


def test_an_aaf_places_every_clip_at_its_time_linked_or_embedded(cues, tmp_path):  # noqa: F811
    """Read back by pyaaf2 and by OpenTimelineIO's AAF adapter: every track, clip position,
    source range and medium; the start timecode (29.97 drop-frame) in a timecode track."""
    import aaf2
    import opentimelineio as otio

    build_scene(cues)
    cli("timeline", "timecode", "Scene 12", "01:00:00;00", "--fps", "29.97 DF")
    folder = Path(json.loads(cli("export", "Scene 12", "--out", str(tmp_path / "linked"), "--rate", str(RATE),
                                 "--json"))["folder"])
    expected = {"Track 1": [(RATE // 2, RATE // 2 + 3 * RATE)],  # the noise at 0.5 s for 3 s
                "Track 2": [(RATE, 2 * RATE), (3 * RATE, 4 * RATE)]}  # the tone at 1 s for 1 s, the door at 3 s
    stems = {"Track 1": "Scene 12 - 01 MX Track 1.wav", "Track 2": "Scene 12 - 02 MX Track 2.wav"}
    with aaf2.open(str(folder / "Scene 12.aaf"), "r") as f:
        composition = next(f.content.toplevel())
        sound = [s for s in composition.slots if s.segment.media_kind == "Sound"]
        assert [s.name for s in sound] == ["Track 1", "Track 2"]
        for slot in sound:
            clips, at = [], 0
            for component in slot.segment.components:
                if isinstance(component, aaf2.components.SourceClip):
                    assert component.start == at  # a range of the stem, which runs from timeline zero
                    clips.append((at, at + component.length))
                    source = component.mob.slot_at(component.slot_id).segment.mob
                    assert source.descriptor["Locator"][0]["URLString"].value.replace("%20", " ") == stems[slot.name]
                at += component.length
            assert clips == expected[slot.name]
        clock = next(s.segment for s in composition.slots if s.segment.media_kind == "Timecode")
        assert (clock.start, clock.fps, clock.drop) == (107892, 30, True)  # 01:00:00;00 DF: 3600 s × 29.97
    timeline = otio.adapters.read_from_file(str(folder / "Scene 12.aaf"), adapter_name="AAF")
    for track in timeline.audio_tracks():
        placed = [(c.range_in_parent().start_time.value, c.range_in_parent().end_time_exclusive().value)
                  for c in track.find_clips()]
        assert placed == expected[track.name]
        assert all(c.media_reference.target_url.endswith(stems[track.name].replace(" ", "%20")) for c in track.find_clips())

    embedded = Path(json.loads(cli("export", "Scene 12", "--out", str(tmp_path / "embedded"), "--rate", str(RATE),
                                   "--bits", "16", "--aaf", "embedded", "--json"))["folder"])
    with aaf2.open(str(embedded / "Scene 12.aaf"), "r") as f:
        for master in f.content.mastermobs():
            source = master.slots[0].segment.mob
            source.export_audio(str(tmp_path / f"{master.name}.wav"))
            inside, _ = soundfile.read(tmp_path / f"{master.name}.wav", dtype="int16")
            stem, _ = soundfile.read(embedded / stems[master.name], dtype="int16")
            assert np.array_equal(inside, stem)
    refused = run_cli("export", "Scene 12", "--out", str(tmp_path / "x"), "--bits", "32f", "--aaf", "embedded")
    assert refused.returncode == 2 and "embeds 16- or 24-bit WAV" in refused.stderr
    flac = Path(json.loads(cli("export", "Scene 12", "--out", str(tmp_path / "flac"), "--format", "flac",
                               "--json"))["folder"])
    assert not (flac / "Scene 12.aaf").exists()  # AAF links WAV


def test_stems_are_named_by_their_delivery_role(cues, tmp_path):  # noqa: F811
    from engine.library import Library
    from engine.request import GenerationRequest

    with Library() as lib:  # a sound effect made by AudioGen: FX by itself
        request = GenerationRequest("glass shatter", model="tiny-sfx", candidates=1, duration=1, seed=5)
        sfx = lib.add_batch(request, np.zeros((1, 1, 16000), np.float32) + 0.1, 16000, [5], "job00000005",
                            "1.3.0")[0].id
    build_scene(cues)
    cli("timeline", "add", "Scene 12", str(sfx), "--track", "3", "--at", "0")
    shown = cli("timeline", "role", "Scene 12", "1", "BG")
    assert "BG" in shown.splitlines()[1] and "auto role" in shown.splitlines()[3]
    folder = Path(cli("export", "Scene 12", "--out", str(tmp_path), "--aaf", "none").strip())
    assert sorted(p.name for p in folder.glob("*.wav")) == [
        "Scene 12 - 01 BG Track 1.wav", "Scene 12 - 02 MX Track 2.wav", "Scene 12 - 03 FX Track 3.wav",
        "Scene 12 - Mix.wav"]
    assert not (folder / "Scene 12.aaf").exists()
    bad = run_cli("timeline", "role", "Scene 12", "1", "VO")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    cli("timeline", "role", "Scene 12", "1", "auto")
    assert json.loads(cli("timeline", "show", "Scene 12", "--json"))["tracks"][0]["role"] == ""
