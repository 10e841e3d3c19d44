"""A real Ray head on this machine for the cluster tests."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"


@contextlib.contextmanager
def head(extra_env: dict | None = None, replicas: int = 2, cpus: int = 2, nodes: tuple = ()):
    """A real Ray head on this machine: loopback, `cpus` CPUs and `replicas` engine replicas, its
    own temporary folder and its own CUEDECK_HOME (the cluster's models; it never has a
    library), and the `nodes` (join's arguments after the address) joined to it. Gives (the
    address desks use, its Ray Client server's, and that home)."""
    # A short folder: Ray's socket paths must stay under the system's 107 characters.
    folder = Path(tempfile.mkdtemp(prefix="cdray-"))
    port, client_port = _free_port(), _free_port()
    env = {**os.environ, "CUEDECK_HOME": str(folder / "home"), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0", **(extra_env or {})}
    started = subprocess.run(
        [RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
         f"--ray-client-server-port={client_port}", f"--num-cpus={cpus}", "--num-gpus=0",
         f'--resources={{"cuedeck_replicas": {replicas}}}', "--include-dashboard=false",
         f"--temp-dir={folder / 'ray'}", "--object-store-memory=200000000", "--disable-usage-stats"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        for node in nodes:
            join(f"127.0.0.1:{port}", *node)
        _wait_for(client_port)  # Ray Client's server starts after `ray start` returns
        yield f"127.0.0.1:{client_port}", folder / "home"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def join(address: str, home: Path, extra_env: dict | None = None, replicas: int = 1) -> None:
    """Another node on this machine, one CPU and its own CUEDECK_HOME (`home`), joined to the
    head whose GCS is at `address` (and stopped with it)."""
    env = {**os.environ, "CUEDECK_HOME": str(home), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "RAY_USAGE_STATS_ENABLED": "0", **(extra_env or {})}
    started = subprocess.run(
        [RAY, "start", f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--num-gpus=0",
         f'--resources={{"cuedeck_replicas": {replicas}}}', "--object-store-memory=100000000",
         "--disable-usage-stats"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
