import numpy as np
import pytest
import soundfile as sf

from engine import audio_io


def test_float_wav_round_trips_exactly_and_is_byte_stable(tmp_path):
    audio = np.random.default_rng(0).normal(0, 0.7, (2, 4801)).astype(np.float32)
    audio[0, 0] = 1.75  # above full scale is kept, not clipped
    digest = audio_io.write_wav_atomic(tmp_path / "a.wav", audio, 48000)
    assert digest == audio_io.write_wav_atomic(tmp_path / "b.wav", audio, 48000)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    data, rate = sf.read(tmp_path / "a.wav", dtype="float32", always_2d=True)
    info = sf.info(tmp_path / "a.wav")
    assert (rate, info.subtype, info.channels) == (48000, "FLOAT", 2)
    assert np.array_equal(data.T, audio)


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(audio_io.os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        audio_io.write_wav_atomic(tmp_path / "a.wav", np.zeros((1, 10), np.float32), 8000)
    assert list(tmp_path.iterdir()) == []
