"""The real app, started with the README's run command on a real X server (Xvfb), driven
with real key presses (xdotool), generating through the real worker; saves a screenshot."""

import json
import os
from pathlib import Path

import pytest
import soundfile as sf
from PIL import ImageGrab

from conftest import run_cli
from x11 import app_on_xvfb, focus, wait_for, xdotool
from engine.library import Library

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


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


def saved_cues(prompt: str) -> list:
    with Library() as lib:
        return lib.search(prompt)


@pytest.mark.parametrize("width,height", [(1024, 700), (1600, 1000)])
def test_a_session_from_the_run_command_at_laptop_and_desktop_size(cuedeck_home, tmp_path, width, height):
    """Type a prompt, generate, leave a tag field with Esc, rate by key, add to the
    timeline, export: all with real key presses, at 1024 × 700 and at 1600 × 1000."""
    arrange_a_timeline()
    exports = tmp_path / "exports"
    config = cuedeck_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "desktop.ini").write_text(f"[export]\nfolder={exports}\n")
    with app_on_xvfb(["make", "--no-print-directory", "run"], width, height, os.environ, cwd=ROOT) as (app, env):
        def keys(*names):
            for name in names:
                xdotool("key", name, env=env)

        def shot(name):
            ARTIFACTS.mkdir(exist_ok=True)
            image = ImageGrab.grab(xdisplay=env["DISPLAY"])
            image.save(ARTIFACTS / name)
            return image

        # --onlyvisible: a window found before it is mapped cannot take the keyboard focus,
        # and keys typed then go nowhere (no window manager gives it focus for us).
        window = wait_for(lambda: xdotool("search", "--onlyvisible", "--name", "^CueDeck$", env=env),
                          60, "the CueDeck window").splitlines()[0]
        xdotool("windowmove", window, "0", "0", env=env)
        xdotool("windowsize", window, str(width), str(height), env=env)
        wait_for(lambda: f"Geometry: {width}x{height}" in xdotool("getwindowgeometry", window, env=env),
                 30, f"the window at {width} × {height}")

        wait_for(lambda: focus(window, env), 30, "the keyboard focus on the CueDeck window")
        xdotool("type", "--delay", "15", "rain on a tin roof, close and heavy", env=env)
        keys("ctrl+Return")
        try:
            found = wait_for(lambda: saved_cues("rain"), 180, "the generated cues in the library")
        except AssertionError:
            shot("e2e-failure.png")
            log = cuedeck_home / "logs" / "worker.log"
            raise AssertionError(f"no cues; worker log:\n{log.read_text() if log.exists() else '(none)'}")
        assert len(found) == 4 and found[0].prompt == "rain on a tin roof, close and heavy"
        first = min(found, key=lambda c: c.batch_index)

        # Esc leaves the prompt for the candidates; T opens the tag field, Esc leaves it
        # unsaved, and the 4 typed next rates the cue instead of landing in the field.
        keys("Escape", "t")
        xdotool("type", "--delay", "15", "DOORWood", env=env)
        keys("Escape", "4")
        try:
            wait_for(lambda: saved_cues("rain") and next(c for c in saved_cues("rain") if c.id == first.id).rating == 4,
                     30, "the rating typed after Esc")
        except AssertionError:
            shot("e2e-failure.png")
            raise
        assert next(c for c in saved_cues("rain") if c.id == first.id).tags == ()

        keys("a")  # onto the timeline, after what is on its first track

        def placed():
            with Library() as lib:
                return first.id in lib.timeline("Reel 1").cue_ids()
        wait_for(placed, 30, "the cue on the timeline")

        keys("ctrl+shift+e")
        dialog = wait_for(lambda: xdotool("search", "--onlyvisible", "--name", "^Export", env=env),
                          30, "the export dialog").splitlines()[0]
        wait_for(lambda: focus(dialog, env), 30, "the keyboard focus on the export dialog")
        keys("Return")
        mix = wait_for(lambda: list(exports.glob("*/* - Mix.wav")), 120, "the exported mix")
        assert sf.info(str(mix[0])).frames > 0
        wait_for(lambda: not list(exports.glob("**/*.part")), 30, "the export to finish")
        settled = [None]

        def painted():  # two grabs in a row alike: the notice and waveforms have painted
            now = ImageGrab.grab(xdisplay=env["DISPLAY"]).tobytes()
            same, settled[0] = now == settled[0], now
            return same
        wait_for(painted, 30, "the window to finish painting")
        image = shot(f"e2e-{width}x{height}.png")
        assert image.size == (width, height)
        assert len(image.getcolors(1 << 20) or range(1 << 20)) > 50  # a painted window, not a blank screen

        # the dialog took the X focus with it (no window manager to hand it back)
        wait_for(lambda: focus(window, env), 30, "the keyboard focus back on the CueDeck window")
        keys("ctrl+q")
        assert app.wait(timeout=30) == 0
    assert "Traceback" not in app.output, app.output
