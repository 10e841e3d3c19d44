"""Seamless loops: exactly their bars at their tempo, to the frame, with a seam as smooth as
the file's inside (and a known discontinuity caught), tagged for samplers (smpl, read by
wavinfo) and DAWs (acid, read by libsndfile itself), in the library, in exports and on the
timeline, where a loop clip repeats to fill what it is stretched to."""

import ctypes

import numpy as np
import pytest
import soundfile
import wavinfo

from conftest import run_cli
from engine import exchange, loops
from engine.client import EngineClient
from engine.cue import provenance_line
from engine.errors import BadInput
from engine.export import export_cue, export_timeline
from engine.library import Library
from engine.mixdown import render
from engine.request import GenerationRequest
from engine.timeline import Clip, Timeline
from synthetic_music import RATE, beats


class _LoopInfo(ctypes.Structure):  # libsndfile's SF_LOOP_INFO, filled from a WAV's acid chunk
    _fields_ = [("time_sig_num", ctypes.c_short), ("time_sig_den", ctypes.c_short), ("loop_mode", ctypes.c_int),
                ("num_beats", ctypes.c_int), ("bpm", ctypes.c_float), ("root_key", ctypes.c_int),
                ("future", ctypes.c_int * 6)]


def acid_as_libsndfile_reads_it(path) -> _LoopInfo | None:
    lib = ctypes.CDLL(soundfile._full_path if hasattr(soundfile, "_full_path") else soundfile._libname)
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
    lib.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    handle = lib.sf_open(str(path).encode(), 0x10, ctypes.byref((ctypes.c_byte * 64)()))  # SFM_READ
    assert handle, f"libsndfile cannot open {path}"
    info = _LoopInfo()
    found = lib.sf_command(handle, 0x10E0, ctypes.byref(info), ctypes.sizeof(info))  # SFC_GET_LOOP_INFO
    lib.sf_close(handle)
    return info if found else None


def test_a_loop_cut_from_beats_is_exact_and_seamless_and_a_discontinuity_is_caught():
    frames = round(loops.length_seconds(120, 2, 4) * RATE)
    material = beats(120, frames / RATE + loops.overhang_seconds(120), seed=3)
    loop = loops.make_loop(material, RATE, frames, 120)
    assert loop.shape == (1, frames) and loops.seam(loop, RATE).seamless
    noise = np.random.default_rng(2).standard_normal((2, frames + int(loops.overhang_seconds(None) * RATE)))
    assert loops.seam(loops.make_loop(0.1 * noise.astype(np.float32), RATE, frames, None), RATE).seamless
    t = np.arange(frames) / RATE
    jump = loops.seam((0.5 * np.sin(2 * np.pi * 441.3 * t))[None], RATE)  # not a whole number of cycles
    assert not jump.seamless and jump.step > 5 * jump.typical_step
    fading = 0.2 * np.random.default_rng(0).standard_normal((1, frames))
    fading[:, frames - frames // 3:] *= np.linspace(1, 0, frames // 3)  # ends in silence, starts loud
    faded = loops.seam(fading, RATE)
    assert not faded.seamless and faded.change > 2 * faded.typical_change


@pytest.mark.parametrize("ask, words", [
    ({"bars": 4}, "bars make a loop: ask for a loop too"),
    ({"loop": True, "bars": 4}, "a loop of bars needs a tempo"),
    ({"loop": True, "bars": 64, "bpm": 60, "model": "tiny-sfx"}, "a loop of 64 bars at 60 BPM is 256.00 s"),
    ({"loop": True, "parent_id": 1}, "a continuation cannot also be a loop"),
    ({"loop": True, "bars": 4, "bpm": 120, "beats_per_bar": 0}, "beats per bar must be a whole number from 1"),
])
def test_a_loop_that_cannot_be_is_refused_in_one_line(ask, words):
    with pytest.raises(BadInput, match=words):
        GenerationRequest("x", **ask).validated()


def test_a_loop_of_bars_lasts_them_at_its_tempo():
    assert GenerationRequest("x", loop=True, bpm=120, bars=4).validated().duration == 8.0
    odd = GenerationRequest("x", loop=True, bpm=97, bars=3, beats_per_bar=7).validated()
    assert odd.duration == 3 * 7 * 60 / 97 and odd.generated_seconds() == odd.duration + 60 / 97 + loops.CROSSFADE


def test_every_model_kind_makes_loops_that_samplers_and_daws_read(cuedeck_home, tmp_path):
    asks = [GenerationRequest("techno groove", "tiny-music", 2, loop=True, bpm=120, bars=2, seed=1),
            GenerationRequest("rain ambience", "tiny-sfx", 2, duration=3.0, loop=True, seed=2),
            GenerationRequest("waltz", "tiny-stereo", 1, loop=True, bpm=150, bars=2, beats_per_bar=3, seed=3),
            GenerationRequest("pulse", "tiny-magnet", 1, duration=2.0, loop=True, seed=4)]
    with EngineClient() as engine, Library() as lib:
        made = [exchange.generate(lib, engine, ask.validated()) for ask in asks]
    for ask, cues in zip(asks, made):
        for cue in cues:
            audio, rate = soundfile.read(cue.path, dtype="float32", always_2d=True)
            assert len(audio) == round(ask.validated().duration * rate) and audio.shape[1] == cue.channels
            assert loops.seam(audio.T, rate).seamless, (cue.model, loops.seam(audio.T, rate))
            (loop,) = wavinfo.WavInfoReader(cue.path).smpl.sample_loops
            assert (loop.start, loop.end, loop.loop_type, loop.repetition_count) == (0, len(audio) - 1, 0, 0)
            acid = acid_as_libsndfile_reads_it(cue.path)
            if ask.bars:
                assert (acid.num_beats, acid.time_sig_num, acid.bpm) == (ask.bars * ask.beats_per_bar,
                                                                         ask.beats_per_bar, ask.bpm)
                assert acid.loop_mode == 801  # SF_LOOP_FORWARD
                assert f"loop of {ask.bars} bars of {ask.beats_per_bar}/4 at {ask.bpm:g} BPM" in provenance_line(cue)
            else:
                assert acid is None and f"loop of {ask.duration:.2f} s" in provenance_line(cue)
    groove = made[0][0]
    exported = export_cue(groove, tmp_path / "out", rate=48000, bits="24")
    info = wavinfo.WavInfoReader(exported)
    assert info.smpl.sample_loops[0].end == info.data.frame_count - 1 == round(4.0 * 48000) - 1
    assert "loop of 2 bars of 4/4 at 120 BPM" in info.bext.description
    assert acid_as_libsndfile_reads_it(exported).bpm == 120


def test_a_loop_clip_repeats_to_fill_its_length_and_other_clips_stop_at_their_cue(cuedeck_home):
    request = GenerationRequest("loop", candidates=1, duration=1.0, seed=1, loop=True).validated()
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, (1, 1, 16000)).astype(np.float32)
    with Library() as lib:
        (loop,) = lib.add_batch(request, audio, 16000, [1], "job", "1.3.0")
        (plain,) = lib.add_batch(GenerationRequest("plain", candidates=1, duration=1.0, seed=2).validated(), audio,
                                 16000, [2], "job2", "1.3.0")
    timeline = Timeline("t").add_clip(0, Clip(loop.id, 0.0, 0.25, 1.0, 1.0, repeats=loop.loop))
    timeline = timeline.trim_clip(0, 0, "right", 3.5)  # dragged past the cue's end
    assert timeline.clip(0, 0).end == pytest.approx(3.75)
    mix = render(timeline, {loop.id: loop}, 16000).mix[:, 0]
    expected = np.concatenate([audio[0, 0, 4000:], audio[0, 0], audio[0, 0], audio[0, 0, :12000]])
    assert len(mix) == 56000 and np.array_equal(mix, expected)
    plain_timeline = Timeline("p").add_clip(0, Clip(plain.id, 0.0, 0.0, 1.0, 1.0))
    assert plain_timeline.trim_clip(0, 0, "right", 3.5).clip(0, 0).end == 1.0
    with pytest.raises(BadInput, match="only a loop cue repeats past its end"):
        Clip(plain.id, 0.0, 0.0, 2.0, 1.0).checked()
    for command in (["timeline", "new", "Reel"], ["timeline", "add", "Reel", str(loop.id), "--out", "3"]):
        done = run_cli(*command)
        assert done.returncode == 0, done.stderr
    with Library() as lib:
        (clip,) = lib.timeline("Reel").tracks[0].clips
        assert clip.repeats and clip.end == 3
        result = export_timeline(lib, "Reel", cuedeck_home / "exports", rate=16000, bits="32f")
    mixed, _ = soundfile.read(result.folder / "Reel - Mix.wav")
    assert len(mixed) == 3 * 16000 and np.allclose(mixed, np.tile(audio[0, 0], 3), atol=1e-6)
