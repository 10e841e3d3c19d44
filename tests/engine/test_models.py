"""The model manager against a stand-in hub on localhost (HF_ENDPOINT): install with
progress, an interrupted download that resumes, cancel, a corrupted file, offline mode, no
disk space; import, remove and broken folders. The files served are a real tiny checkpoint
under a released model's name, so the installed model then generates through audiocraft."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli, use_hf_home
from engine import models, paths, registry
from engine.errors import BadInput
from hub_standin import COMMIT, NAME, REPO


def cli(*args, **kw):
    return run_cli(*args, **kw)


def test_install_with_progress_then_generate_offline(hub, tmp_path, monkeypatch):
    done = cli("models", "install", NAME, "--progress-json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines[-1]["done"] == lines[-1]["total"] > 0
    assert [p["done"] for p in lines] == sorted(p["done"] for p in lines)  # progress only grows
    folder = paths.models_dir() / NAME
    assert sorted(p.name for p in folder.iterdir()) == sorted([*registry.CHECKPOINT_FILES, models.MANIFEST])
    encoder = tmp_path / "hf" / "hub" / "models--t5-base"
    assert (encoder / "refs" / "main").read_text() == COMMIT
    assert (encoder / "snapshots" / COMMIT / "spiece.model").read_bytes().startswith(b"stand-in")

    listed = {m["name"]: m for m in map(json.loads, cli("models", "--json").stdout.splitlines())}
    assert listed[NAME]["state"] == "present" and listed[NAME]["path"] == str(folder)
    assert listed[NAME]["licence"] == "CC-BY-NC-4.0" and listed[NAME]["size_bytes"] > 0

    requests = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # from now on, months offline
    again = cli("generate", "brass stabs", "-n", "1", "-d", "0.5", "--model", NAME, "--seed", "1", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["licence"] == "CC-BY-NC-4.0"
    assert len(hub.requests) == requests  # nothing touched the network


def test_an_interrupted_download_resumes_where_it_stopped(hub):
    hub.cut_after["state_dict.bin"] = 200_000  # the connection drops after 200 kB
    first = cli("models", "install", NAME)
    assert first.returncode == 1 and "run the install again to resume" in first.stderr, first.stderr
    assert "Traceback" not in first.stderr
    listed = {m["name"]: m for m in map(json.loads, cli("models", "--json").stdout.splitlines())}
    assert listed[NAME]["state"] == "not present" and "resumes" in listed[NAME]["detail"]
    kept = (paths.models_dir() / NAME / "state_dict.bin.incomplete").stat().st_size
    assert 0 < kept <= 200_000
    second = cli("models", "install", NAME)
    assert second.returncode == 0, second.stderr
    assert f"GET /{REPO}/resolve/main/state_dict.bin bytes={kept}-" in hub.requests  # resumed, not restarted
    assert models.state(registry.get(NAME)).state == "present"
    damaged = paths.models_dir() / NAME / "compression_state_dict.bin"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    assert models.state(registry.get(NAME)).state == "broken"
    assert cli("models", "install", NAME).returncode == 0  # install repairs it
    assert models.state(registry.get(NAME)).state == "present"


def test_cancel_keeps_the_partial_file_and_the_next_install_resumes(hub):
    big = b"x" * 40_000_000
    hub.add(models.TEXT_ENCODER, "model.safetensors", big)
    hub.slow_once["model.safetensors"] = 5.0  # long enough to cancel half way
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "models", "install", NAME, "--progress-json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "model.safetensors" in line and json.loads(line)["done"] > 5_000_000:
            process.send_signal(signal.SIGINT)
            break
    assert process.wait(timeout=60) == 130
    assert "cancelled; run the install again to resume" in process.stderr.read()
    partial = list((paths.models_dir() / NAME).parent.parent.glob("**/*.incomplete"))
    partial += list(os.environ.get("HF_HOME") and __import__("pathlib").Path(os.environ["HF_HOME"]).glob("**/*.incomplete"))
    assert partial and 0 < partial[0].stat().st_size < len(big)
    assert cli("models", "install", NAME).returncode == 0
    assert any("model.safetensors bytes=" in r for r in hub.requests)


def test_a_corrupted_download_is_detected_and_not_kept(hub):
    hub.corrupt.add("compression_state_dict.bin")
    done = cli("models", "install", NAME)
    assert done.returncode == 1 and "arrived corrupted" in done.stderr, done.stderr
    assert not (paths.models_dir() / NAME / "compression_state_dict.bin").exists()
    assert models.state(registry.get(NAME)).state != "present"


def test_offline_mode_touches_no_network(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    done = cli("models", "install", NAME)
    assert done.returncode == 2 and "offline mode is on" in done.stderr
    assert hub.requests == [] and not (paths.models_dir() / NAME).exists()


def test_no_disk_space_is_refused_before_anything_is_written(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(BadInput, match="GB free; free some space"):
        models.install(NAME)
    assert not (paths.models_dir() / NAME).exists()
    assert all(r.startswith("HEAD") for r in hub.requests)  # sizes asked, nothing downloaded


def copy_text_encoder_into_cache(hf_home) -> None:
    """What an offline copy of ~/.cache/huggingface/hub/models--t5-base amounts to."""
    root = hf_home / "hub" / "models--t5-base"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    for f in registry.TEXT_ENCODER_FILES:
        (root / "snapshots" / COMMIT).mkdir(parents=True, exist_ok=True)
        (root / "snapshots" / COMMIT / f).write_text("copied")


def test_import_checks_the_files_and_remove_deletes_them(checkpoint, tmp_path, monkeypatch):
    use_hf_home(monkeypatch, tmp_path / "hf")
    done = cli("models", "import", NAME, str(checkpoint))
    assert done.returncode == 0, done.stderr
    waiting = models.state(registry.get(NAME))
    assert waiting.state == "not present" and "T5 text encoder is missing" in waiting.detail
    copy_text_encoder_into_cache(tmp_path / "hf")
    assert models.state(registry.get(NAME)).state == "present"
    (paths.models_dir() / NAME / "state_dict.bin").write_bytes(b"truncated")
    broken = models.state(registry.get(NAME))
    assert broken.state == "broken" and "state_dict.bin has 9 bytes" in broken.detail
    assert cli("models", "remove", NAME).returncode == 0
    assert models.state(registry.get(NAME)).state == "not present"
    nothing = cli("models", "remove", NAME)
    assert nothing.returncode == 2 and "not on this machine" in nothing.stderr

    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(checkpoint / "state_dict.bin", bad / "state_dict.bin")
    for content, words in [(None, "lacks compression_state_dict.bin"), (b"not a checkpoint", "not a readable checkpoint")]:
        if content is not None:
            (bad / "compression_state_dict.bin").write_bytes(content)
        done = cli("models", "import", NAME, str(bad))
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (paths.models_dir() / NAME).exists()  # a refused import changes nothing
    assert "is not a folder" in cli("models", "import", NAME, str(tmp_path / "nope")).stderr


def test_a_checkpoint_needing_pickled_code_is_refused_on_import(checkpoint, tmp_path):
    import torch

    evil = tmp_path / "evil"
    shutil.copytree(checkpoint, evil)
    package = torch.load(evil / "state_dict.bin", weights_only=True)
    package["extra"] = shutil.Error("any class that is not plain data")
    torch.save(package, evil / "state_dict.bin")
    done = cli("models", "import", NAME, str(evil))
    assert done.returncode == 2 and "arbitrary pickled code" in done.stderr, done.stderr
    assert not (paths.models_dir() / NAME).exists()


def test_a_melody_model_installs_with_its_stem_separator_and_follows_a_melody(hub, tmp_path, monkeypatch):
    import numpy as np
    import soundfile
    from huggingface_hub import constants

    from engine.worker import tiny_models

    tiny_models.build_separator(tmp_path / "sep", COMMIT)  # building the LM loads the separator
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "sep"))
    melody_ckpt = tiny_models.build("tiny-melody", tmp_path / "melody-ckpt")
    use_hf_home(monkeypatch, tmp_path / "hf")  # where the hub stand-in installs
    for f in registry.CHECKPOINT_FILES:
        hub.add("facebook/musicgen-melody", f, (melody_ckpt / f).read_bytes())
    for file in (tmp_path / "sep" / "models--adefossez--HTDemucs" / "snapshots" / COMMIT).iterdir():
        hub.add(registry.SEPARATOR, file.name, file.read_bytes())
    done = cli("models", "install", "musicgen-melody")
    assert done.returncode == 0, done.stderr
    assert models.state(registry.get("musicgen-melody")).state == "present"
    assert registry.separator_present()

    tune = tmp_path / "tune.ogg"
    t = np.arange(3 * 44100) / 44100
    soundfile.write(tune, 0.3 * np.sin(2 * np.pi * 330 * t), 44100)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    requests = len(hub.requests)
    made = cli("generate", "cello line", "-n", "1", "-d", "1", "--model", "musicgen-melody", "--melody", str(tune))
    assert made.returncode == 0, made.stderr
    assert len(hub.requests) == requests
