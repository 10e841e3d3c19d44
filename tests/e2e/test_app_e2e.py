"""The real app, started with the README's run command on a real X server (Xvfb), driven
with real key presses (xdotool), generating through the real worker; saves a screenshot."""

import json
import os
import subprocess
import time
from pathlib import Path

from PIL import ImageGrab

from conftest import run_cli
from engine.library import Library

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def start_xvfb():
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1500x900x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        display = f":{f.readline().strip()}"
    return xvfb, display


def xdotool(*args, env) -> str:
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def arrange_a_timeline() -> None:
    """Cues from the command line, placed on a timeline the app opens at start."""
    done = run_cli("generate", "low drone, slow swell", "-n", "2", "-d", "6", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in done.stdout.splitlines()]
    for args in (("timeline", "new", "Reel 1"),
                 ("timeline", "add", "Reel 1", str(ids[0]), "--at", "1", "--fade-in", "1", "--fade-out", "2"),
                 ("timeline", "add", "Reel 1", str(ids[1]), "--track", "2", "--at", "4", "--gain", "-6",
                  "--fade-in", "0.5")):
        assert run_cli(*args).returncode == 0


def test_run_command_starts_the_app_which_generates_and_shows_candidates(cuedeck_home):
    arrange_a_timeline()
    xvfb, display = start_xvfb()
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    app = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        # --onlyvisible: a window found before it is mapped cannot take the keyboard focus,
        # and keys typed then go nowhere (no window manager gives it focus for us).
        window = wait_for(lambda: xdotool("search", "--onlyvisible", "--name", "^CueDeck$", env=env),
                          60, "the CueDeck window").splitlines()[0]

        def focused():
            xdotool("windowfocus", window, env=env)
            return xdotool("getwindowfocus", env=env) == window
        wait_for(focused, 30, "the keyboard focus on the CueDeck window")
        time.sleep(1)  # let the window finish its first layout
        xdotool("type", "--delay", "15", "rain on a tin roof, close and heavy", env=env)
        xdotool("key", "ctrl+Return", env=env)

        def cues():
            if not (cuedeck_home / "library" / "library.sqlite3").exists():
                return []
            with Library() as lib:
                return lib.search("rain")
        try:
            found = wait_for(cues, 180, "the generated cues in the library")
        except AssertionError:
            ARTIFACTS.mkdir(exist_ok=True)
            ImageGrab.grab(xdisplay=display).save(ARTIFACTS / "e2e-failure.png")
            log = cuedeck_home / "logs" / "worker.log"
            raise AssertionError(f"no cues; worker log:\n{log.read_text() if log.exists() else '(none)'}")
        assert len(found) == 4 and found[0].prompt == "rain on a tin roof, close and heavy"
        time.sleep(3)  # cards fill in, waveforms arrive from the file threads
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ImageGrab.grab(xdisplay=display)
        shot.save(ARTIFACTS / "e2e-app.png")
        assert shot.size == (1500, 900)
        assert len(shot.getcolors(1 << 20) or range(1 << 20)) > 50  # a painted window, not a blank screen

        xdotool("key", "ctrl+q", env=env)
        assert app.wait(timeout=30) == 0
    finally:
        if app.poll() is None:
            os.killpg(app.pid, 9)
            app.wait()
        output = app.stdout.read()
        print(output)  # pytest shows it when the test fails
        xvfb.terminate()
        xvfb.wait()
    assert "Traceback" not in output, output
