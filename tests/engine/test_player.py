"""The audition player: its render logic exactly, and real PortAudio on ALSA's null device."""

import time

import numpy as np
import pytest

from engine import loudness
from engine.player import FADE_SECONDS, Player, output_devices, prepare

RATE = 8000
FADE = int(FADE_SECONDS * RATE)  # 40 frames


def steady(frames=1000, value=0.5):
    return np.full((frames, 1), value, np.float32)


def started(player, audio, start=0):
    """A player whose callback state is set up as if PortAudio were running it."""
    player.sample_rate = RATE
    ramp = np.linspace(0, 1, FADE, dtype=np.float32)
    player._ramp_in, player._ramp_out = ramp[:, None], ramp[::-1, None].copy()
    player._format = (RATE, 1)
    player._command = (prepare(audio, RATE), start, RATE)
    return player


def render(player, frames):
    out = np.empty((frames, 1), np.float32)
    alive = player.render(out)
    return out[:, 0], alive


def test_prepare_fades_the_edges_and_applies_gain_without_touching_the_source():
    audio = steady()
    buffer = prepare(audio, RATE, gain=2.0)
    assert buffer[0, 0] == 0 and buffer[-1, 0] == 0 and buffer[500, 0] == 1.0
    assert (audio == 0.5).all()


def test_start_mid_cue_fades_in_then_copies_exactly():
    player = started(Player(), steady(), start=100)
    out, alive = render(player, 200)
    assert alive and out[0] == 0 and np.all(np.diff(out[:FADE]) > 0)
    assert np.all(out[FADE:] == 0.5)
    assert player.position == 300 / RATE


def test_stop_fades_out_then_ends():
    player = started(Player(), steady(), start=100)
    render(player, 100)
    player._command = (None, 0, RATE)
    out, alive = render(player, 100)
    assert not alive
    assert np.all(np.diff(out[:FADE]) < 0) and np.all(out[FADE - 1:] == 0)
    assert not player.playing


def test_switching_cues_fades_out_the_old_and_fades_in_the_new():
    player = started(Player(), steady(value=0.5), start=100)
    render(player, 100)
    player._command = (prepare(steady(value=-0.25), RATE), 200, RATE)
    out, alive = render(player, 200)
    assert alive
    assert np.all(out[:FADE] >= 0) and np.all(np.diff(out[:FADE]) < 0)  # old one down
    assert np.all(out[FADE:2 * FADE] <= 0)  # new one up from silence
    assert np.all(out[2 * FADE:] == -0.25)


def test_end_of_cue_stops_unless_looping():
    player = started(Player(), steady(frames=300), start=0)
    _, alive = render(player, 400)
    assert not alive
    player = started(Player(), steady(frames=300), start=0)
    player.loop = True
    out, alive = render(player, 700)
    assert alive and player.position == (700 % 300) / RATE
    assert out[300] == 0  # the loop point is faded, not clicked


def test_plays_through_portaudio_on_the_null_device():
    assert output_devices(), "ALSA null device should be visible to PortAudio"
    player = Player()
    try:
        audio = np.random.default_rng(0).uniform(-0.3, 0.3, (4000, 2)).astype(np.float32)
        player.play(prepare(audio, RATE), RATE)  # (it may be over before this thread runs again)
        deadline = time.monotonic() + 10
        while player.playing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not player.playing and player.position == len(audio) / RATE  # it played to its end
        player.loop = True
        player.play(prepare(audio, RATE), RATE, start=0.25)
        deadline = time.monotonic() + 10  # looping: it wraps past the end and keeps playing
        while not (player.playing and 0 < player.position < 0.25) and time.monotonic() < deadline:
            player.poll()
            time.sleep(0.01)
        assert player.playing and 0 < player.position < 0.25
        player.stop()
        deadline = time.monotonic() + 10
        while player.playing and time.monotonic() < deadline:
            player.poll()
            time.sleep(0.01)
        assert not player.playing
    finally:
        player.close()


def test_missing_device_is_reported_not_raised_at_the_caller():
    errors = []
    player = Player(device=999, on_error=errors.append)
    try:
        player.play(prepare(steady(), RATE), RATE)  # returns at once: the device opens on the control thread
        deadline = time.monotonic() + 10
        while not errors and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "pick another device" in errors[0] and not player.playing
    finally:
        player.close()


@pytest.mark.parametrize("rate, channels, seconds", [(48000, 2, 20.0), (32000, 1, 3.0), (16000, 1, 0.2),
                                                    (44100, 2, 7.3), (22050, 1, 11.1)])
def test_loudness_is_pyloudnorms_integrated_loudness(rate, channels, seconds):
    """engine.loudness sums its gated blocks its own way: pyloudnorm (independent) agrees."""
    import pyloudnorm

    rng = np.random.default_rng(rate)
    audio = (0.1 * rng.standard_normal((int(rate * seconds), channels))).astype(np.float32)
    audio[: len(audio) // 3] *= 0.001  # a quiet third: the relative gate leaves it out
    padded = np.concatenate([audio, np.zeros((max(0, int(0.4 * rate) - len(audio) + 1), channels), np.float32)])
    assert loudness.measure(audio, rate)[0] == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(padded),
                                                             abs=0.01)
    t = np.arange(5 * 48000) / 48000  # BS.1770's own check: a −20 dBFS 997 Hz sine reads −23 LUFS
    assert loudness.measure(0.1 * np.sin(2 * np.pi * 997 * t)[:, None], 48000)[0] == pytest.approx(-23.0, abs=0.1)


def test_loudness_matched_gain_equalises_quiet_and_loud_cues():
    rng = np.random.default_rng(1)
    quiet = rng.normal(0, 0.01, (RATE * 3, 1)).astype(np.float32)
    loud = rng.normal(0, 0.1, (RATE * 3, 1)).astype(np.float32)
    levels = []
    for audio in (quiet, loud):
        gain = loudness.audition_gain(*loudness.measure(audio, RATE))
        levels.append(loudness.measure(audio * gain, RATE)[0])
    assert abs(levels[0] - levels[1]) < 0.5
    assert abs(levels[0] - loudness.AUDITION_TARGET_LUFS) < 0.5
    assert loudness.measure(np.zeros((RATE, 1), np.float32), RATE) == (None, 0.0)
    assert loudness.audition_gain(None, 0.0) == 1.0
    spike = np.zeros((RATE, 1), np.float32)
    spike[100] = 0.9
    assert loudness.audition_gain(*loudness.measure(spike, RATE)) * 0.9 <= loudness.PEAK_CEILING + 1e-6


def test_a_closed_player_ignores_further_commands():
    player = Player()
    player.play(prepare(steady(), RATE), RATE)
    player.close()
    player.close()
    player.play(prepare(steady(), RATE), RATE)
    player.stop()
    player.poll()
    assert not player.playing


def test_switching_channels_and_rates_while_playing_never_feeds_the_wrong_format():
    """Mono, stereo and three rates, 200 switches while audio runs: the callback only ever
    sees a buffer that matches the open stream, and the last cue really plays."""
    errors, failures = [], []
    player = Player(on_error=errors.append)
    render_checked = player.render

    def render(out):
        try:
            return render_checked(out)
        except Exception as e:  # what PortAudio's thread would swallow
            failures.append(repr(e))
            raise
    player.render = render
    player.loop = True
    rng = np.random.default_rng(2)
    formats = [(rate, channels) for rate in (8000, 16000, 32000) for channels in (1, 2)]
    buffers = {(r, c): prepare(rng.uniform(-0.2, 0.2, (r // 4, c)).astype(np.float32), r)
               for r, c in formats}
    try:
        for i in range(200):
            rate, channels = formats[(i * 5) % len(formats)]
            player.play(buffers[rate, channels], rate)
            time.sleep(0.002 * (i % 4))  # some land mid-fade, some before the stream opened
            player.poll()
        deadline = time.monotonic() + 10
        while player.stream_format != (rate, channels) and time.monotonic() < deadline:
            player.poll()
            time.sleep(0.01)
        assert player.playing and player.stream_format == (rate, channels), "stuck: silent while playing"

        position = player.position
        deadline = time.monotonic() + 10
        while player.position == position and time.monotonic() < deadline:
            time.sleep(0.01)
        assert player.position != position  # audio is flowing
    finally:
        player.close()
    assert failures == [] and errors == []
