"""A private X server (Xvfb) and the xdotool calls the tests drive a real window with."""

import os
import subprocess
import time
from contextlib import contextmanager


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def start_xvfb(width: int, height: int):
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        display = f":{f.readline().strip()}"
    return xvfb, display


def xdotool(*args, env) -> str:
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def focus(window: str, env) -> bool:
    """Give `window` the keyboard focus (no window manager does it here); say if it has it."""
    xdotool("windowfocus", window, env=env)
    return xdotool("getwindowfocus", env=env) == window


@contextmanager
def app_on_xvfb(command: list[str], width: int, height: int, env: dict, **popen):
    """`command` started on a private X server of that size: yields the process and its
    environment, and stops both however the test ends. The app's output is then in
    `process.output` (and printed: pytest shows it when the test fails)."""
    xvfb, display = start_xvfb(width, height)
    env = {**env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    app = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True, **popen)
    try:
        yield app, env
    finally:
        if app.poll() is None:
            os.killpg(app.pid, 9)
            app.wait()
        app.output = app.stdout.read()
        print(app.output)
        xvfb.terminate()
        xvfb.wait()
