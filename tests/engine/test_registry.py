import pytest

from conftest import use_hf_home
from engine import registry
from engine.errors import BadInput, ModelNotPresent

RELEASED = ["musicgen-small", "musicgen-medium", "musicgen-large", "musicgen-melody",
            "musicgen-stereo-small", "musicgen-stereo-medium", "musicgen-stereo-large",
            "musicgen-stereo-melody", "musicgen-stereo-melody-large", "audiogen-medium",
            "magnet-small-10secs", "magnet-medium-10secs", "magnet-small-30secs",
            "magnet-medium-30secs", "audio-magnet-small", "audio-magnet-medium"]


def test_registry_lists_the_released_models_with_their_facts():
    for name in RELEASED:
        info = registry.get(name)
        assert info.hub_id == f"facebook/{name}"
        assert info.licence == "CC-BY-NC-4.0"
        assert info.download_bytes > 1e9
        assert "text" in info.conditioning
    assert registry.get("musicgen-stereo-small").channels == 2
    assert registry.get("musicgen-melody").conditioning == ("text", "melody")
    assert registry.get("audiogen-medium").kind == "sfx"
    assert registry.get("audiogen-medium").sample_rate == 16000
    assert registry.get("musicgen-small").max_duration == 30


def test_tiny_models_are_labelled_as_untrained_and_always_present():
    for name, rate, kind in [("tiny-music", 32000, "music"), ("tiny-sfx", 16000, "sfx")]:
        info = registry.get(name)
        assert (info.sample_rate, info.kind, info.tiny) == (rate, kind, True)
        assert "untrained" in info.licence and "noise" in info.label
        assert info.is_present()


def test_real_model_absent_then_present_in_the_models_folder(cuedeck_home, tmp_path, monkeypatch):
    use_hf_home(monkeypatch, tmp_path / "hf")
    info = registry.get("musicgen-small")
    assert not info.is_present()
    with pytest.raises(ModelNotPresent) as caught:
        registry.require_present(info)
    assert caught.value.model == "musicgen-small" and "install it once (1.8 GB)" in str(caught.value)
    assert "cuedeck" not in str(caught.value)  # the window says it with a button, the CLI with its command
    folder = cuedeck_home / "models" / "musicgen-small"
    folder.mkdir(parents=True)
    for name in registry.CHECKPOINT_FILES:
        (folder / name).write_bytes(b"x")
    assert info.local_folder() == folder and not info.is_present()  # the text encoder is missing
    with pytest.raises(ModelNotPresent, match="T5 text encoder it needs is missing"):
        registry.require_present(info)
    encoder = tmp_path / "hf" / "hub" / "models--t5-base"
    (encoder / "refs").mkdir(parents=True)
    (encoder / "refs" / "main").write_text("c0ffee")
    (encoder / "snapshots" / "c0ffee").mkdir(parents=True)
    for name in registry.TEXT_ENCODER_FILES:
        (encoder / "snapshots" / "c0ffee" / name).write_text("x")
    assert info.is_present() and info.to_dict()["path"] == str(folder)


def test_real_model_found_in_the_hub_cache(tmp_path, monkeypatch):
    cache = use_hf_home(monkeypatch, tmp_path)
    snapshot = cache / "models--facebook--audiogen-medium" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    for name in registry.CHECKPOINT_FILES:
        (snapshot / name).write_bytes(b"x")
    (cache / "models--facebook--audiogen-medium" / "refs").mkdir()
    (cache / "models--facebook--audiogen-medium" / "refs" / "main").write_text("abc123")
    assert registry.get("audiogen-medium").local_folder() == snapshot


def test_unknown_model_says_how_to_list_them():
    with pytest.raises(BadInput, match="cuedeck models"):
        registry.get("nope")
