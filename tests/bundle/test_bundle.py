"""The frozen app as a user gets it: `make package` builds it, its tarball is unpacked and
installed into a private prefix with install.sh, and the installed CLI and window work with no
Python environment on the PATH, a private CUEDECK_HOME and no network; uninstall.sh then
leaves the prefix as it was."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf

from engine.library import Library
from x11 import app_on_xvfb, focus, wait_for, xdotool

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

# The build takes minutes (PyInstaller's analysis of torch; see README › Install the app).
pytestmark = pytest.mark.timeout(2400)


def _snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) + ("/" if p.is_dir() and not p.is_symlink() else "")
                  for p in folder.rglob("*"))


def _offline() -> list[str]:
    """A command prefix that cuts the network off (a new network namespace), where allowed."""
    can = shutil.which("unshare") and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
    return ["unshare", "--net"] if can else []


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The prefix the tarball was installed into, with what the prefix held before."""
    built = subprocess.run(["make", "--no-print-directory", "package"], cwd=ROOT, capture_output=True,
                           text=True, timeout=2400)
    assert built.returncode == 0, built.stdout + built.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "package.txt").write_text(built.stdout)  # build time, bundle and tarball sizes
    tarball, = (ROOT / "dist").glob("CueDeck-*-linux-x86_64.tar.gz")
    base = tmp_path_factory.mktemp("bundle")
    unpacked, prefix = base / "download", base / "prefix"
    # The prefix already holds someone else's files, in folders install.sh also uses.
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "other-tool").write_text("#!/bin/sh\n")
    (prefix / "share" / "applications").mkdir(parents=True)
    before = _snapshot(prefix)
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(unpacked)], check=True, timeout=600)
    install = [str(unpacked / "CueDeck" / "install.sh"), "--prefix", str(prefix)]
    # A disk that fills during the copy (here a 50 MB file-size limit): the install says so
    # and takes back what it added.
    failed = subprocess.run(["bash", "-c", 'ulimit -f 50000; exec "$@"', "install", *install],
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode != 0 and "the install failed; what it added is removed again" in failed.stderr
    assert _snapshot(prefix) == before
    done = subprocess.run(install, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(unpacked)  # the installed app must not need its download
    return prefix, before


def _user_env(prefix: Path, **extra: str) -> dict:
    """A user's environment: the installed commands on the PATH, no Python environment."""
    keep = {k: os.environ[k] for k in ("HOME", "XDG_RUNTIME_DIR", "CUEDECK_HOME", "HF_HOME", "HF_ENDPOINT")
            if k in os.environ}
    return {**keep, "PATH": f"{prefix / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8", "HF_HUB_OFFLINE": "1", **extra}


def _run(prefix: Path, *args: str, online: bool = False) -> subprocess.CompletedProcess:
    env = _user_env(prefix, HF_HUB_OFFLINE="0") if online else _user_env(prefix)
    return subprocess.run([*([] if online else _offline()), *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=prefix)


def test_the_installed_command_line_generates_with_its_own_worker(installed):
    prefix, _ = installed
    assert (prefix / "bin" / "cuedeck").is_symlink()
    version = _run(prefix, "cuedeck", "--version")
    assert version.returncode == 0 and version.stdout.strip() == "cuedeck 0.1.0", version.stderr
    # the bundled PortAudio finds the sound devices (here ALSA's null device, tests/conftest.py)
    devices = _run(prefix, "cuedeck", "--cuedeck-module", "sounddevice")
    assert devices.returncode == 0 and "ALSA" in devices.stdout, devices.stderr
    models = _run(prefix, "cuedeck", "models")
    assert models.returncode == 0 and "tiny-music" in models.stdout, models.stderr
    done = _run(prefix, "cuedeck", "generate", "rain on a roof", "-n", "2", "-d", "1",
                "--model", "tiny-music", "--json")
    assert done.returncode == 0, done.stderr
    cues = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(cues) == 2
    for cue in cues:
        info = sf.info(cue["path"])
        assert info.samplerate == 32000 and info.frames == 32000
    with Library() as lib:
        assert {c.id for c in lib.search("rain on a roof")} == {c["id"] for c in cues}

    # a signed delivery with notes (the transcription helper) and a session, checked by `verify`
    for args in (("timeline", "new", "Reel"), ("timeline", "add", "Reel", str(cues[0]["id"])),
                 ("timeline", "add", "Reel", str(cues[1]["id"]), "--track", "2", "--at", "0.5")):
        assert _run(prefix, "cuedeck", *args).returncode == 0
    out = prefix.parent / "exports"
    exported = _run(prefix, "cuedeck", "export", "Reel", "--out", str(out), "--midi", "--loudness", "ebu-r128",
                    "--json")
    assert exported.returncode == 0, exported.stderr
    files = {Path(f).name for f in json.loads(exported.stdout)["files"]}
    assert {"Reel - Mix.wav", "Reel - 01 MX Track 1.mid", "Reel.aaf", "Reel.otio"} <= files, files
    verified = _run(prefix, "cuedeck", "verify", str(out / "Reel" / "Reel - Mix.wav"))
    assert verified.returncode == 0 and verified.stdout.count(": same:") == 2, verified.stdout + verified.stderr
    shutil.rmtree(out)


def test_the_installed_app_downloads_a_model_then_generates_offline(installed, hub):
    """The first thing a user does: install real weights (the stand-in hub serves tiny-music's
    files as musicgen-small) through the bundle's own download path."""
    prefix, _ = installed
    done = _run(prefix, "cuedeck", "models", "install", "musicgen-small", online=True)
    assert done.returncode == 0, done.stderr
    again = _run(prefix, "cuedeck", "generate", "brass stabs", "-n", "1", "-d", "0.5", "--model", "musicgen-small",
                 "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["licence"] == "CC-BY-NC-4.0"


def test_the_installed_desktop_app_opens_generates_and_quits(installed):
    prefix, _ = installed
    entry = (prefix / "share" / "applications" / "cuedeck.desktop").read_text()
    launcher = prefix / "lib" / "cuedeck" / "cuedeck-desktop"
    assert f"Exec={launcher}\n" in entry
    # what the About box reads: the versions, and the bundled libraries' licences
    bundled = prefix / "lib" / "cuedeck" / "_internal"
    assert list(bundled.glob("audiocraft-1.3.0.dist-info")) and list(bundled.glob("torch-2.11.0.dist-info"))
    notice = (prefix / "lib" / "cuedeck" / "THIRD-PARTY-LICENSES.txt").read_text()
    assert all(f"== {name}" in notice for name in ("torch 2.11.0", "PySide6_Essentials", "libportaudio2"))
    assert (prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "cuedeck.svg").is_file()
    with app_on_xvfb([*_offline(), "cuedeck-desktop"], 1280, 800, _user_env(prefix), cwd=prefix) as (app, env):
        window = wait_for(lambda: xdotool("search", "--onlyvisible", "--name", "^CueDeck$", env=env),
                          120, "the CueDeck window").splitlines()[0]
        wait_for(lambda: focus(window, env), 30, "the keyboard focus on the CueDeck window")
        # the first start's way to real weights: the model manager (File › Models) opens
        xdotool("key", "ctrl+shift+m", env=env)
        dialog = wait_for(lambda: xdotool("search", "--onlyvisible", "--name", "^Models$", env=env), 60,
                          "the Models dialog").splitlines()[0]
        wait_for(lambda: focus(dialog, env), 30, "the keyboard focus on the Models dialog")
        xdotool("key", "Escape", env=env)
        wait_for(lambda: not xdotool("search", "--onlyvisible", "--name", "^Models$", env=env), 30,
                 "the Models dialog to close")
        wait_for(lambda: focus(window, env), 30, "the keyboard focus back on the CueDeck window")
        xdotool("type", "--delay", "15", "wind through pines", env=env)
        xdotool("key", "ctrl+Return", env=env)

        def saved():
            with Library() as lib:
                return lib.search("wind through pines")
        cues = wait_for(lambda: len(saved()) == 4 and saved(), 240, "four generated cues in the library")
        assert all(Path(cue.path).is_file() for cue in cues)
        assert {cue.model for cue in cues} == {"tiny-music"}
        # torch ran in the bundled worker, never in the window's process
        maps = Path(f"/proc/{app.pid}/maps").read_text()
        assert "libQt6Core" in maps and "libtorch" not in maps
        xdotool("key", "ctrl+q", env=env)
        assert app.wait(timeout=60) == 0
    assert "Traceback" not in app.output, app.output


def test_uninstall_leaves_the_prefix_as_it_was(installed):
    """Last in this file: it removes the install the tests above use."""
    prefix, before = installed
    done = subprocess.run([str(prefix / "lib" / "cuedeck" / "uninstall.sh")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert _snapshot(prefix) == before
