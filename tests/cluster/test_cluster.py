"""Generating on a real (local) Ray cluster through the CLI, as a desk would: the same
files as here, bit for bit; audio and rows only in the local library; clear lines when the
cluster is not there."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, stock
from engine.library import Library
from hub_standin import HubStandIn
from ray_head import RAY, head


TOKEN = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0123456789abcdef" * 4}
SILENT_SECONDS = 30  # a desk's silence before the cluster gives back what it held


@pytest.fixture(scope="module")
def ray_cluster(checkpoint, tmp_path_factory):
    """One cluster of two nodes for the tests of this module, set up as the README says, with
    Ray's token authentication (the desks of these tests have the token): the head, with two
    replicas, reaches a model hub (a stand-in on this machine); the second node, with one,
    reaches none. Gives (address, the nodes' CUEDECK_HOMEs)."""
    folder = tmp_path_factory.mktemp("cluster")
    with HubStandIn(folder / "hub") as server, pytest.MonkeyPatch.context() as desk:
        stock(server, checkpoint)
        nodes = {**TOKEN, "CUEDECK_SILENT_DESK_SECONDS": str(SILENT_SECONDS)}
        offline = {"HF_ENDPOINT": "http://127.0.0.1:1", "HF_HUB_OFFLINE": "0", "HF_HOME": str(folder / "hf-2"),
                   **nodes}
        online = {"HF_ENDPOINT": server.url, "HF_HUB_OFFLINE": "0", "HF_HOME": str(folder / "hf"), **nodes}
        with head(extra_env=online, nodes=[(folder / "node-2", offline)]) as (address, home):
            for name, value in TOKEN.items():
                desk.setenv(name, value)
            yield address, [home, folder / "node-2"]


def generate(*args: str) -> list[dict]:
    done = run_cli("generate", *args, "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def streaming_job(address: str, home, candidates: int) -> subprocess.Popen:
    """`cuedeck generate` of a long job on the cluster, once its previews arrive here."""
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "generate", "long drone", "-n", str(candidates),
                             "-d", "30", "--cluster", address], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not list((home / "library" / ".exchange").glob(".*.part/preview-*.f32")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def cluster_status(address: str) -> dict:
    done = run_cli("cluster", "status", address, "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_request_fans_out_over_the_replicas_and_gives_the_same_files_as_here(ray_cluster, cuedeck_home):
    address, cluster_homes = ray_cluster
    request = ("wind through a broken window", "-n", "8", "-d", "2", "--seed", "11", "--model", "tiny-sfx")
    there = generate(*request, "--cluster", address)
    here = generate(*request)
    assert [c["sha256"] for c in there] == [c["sha256"] for c in here]  # split 4 + 4, bit for bit one batch
    assert [c["seed"] for c in there] == list(range(11, 19))
    with Library() as lib:
        there_cues = lib.get_many([c["id"] for c in there])
        assert all(cue.path.is_file() and cue.path.is_relative_to(cuedeck_home) for cue in there_cues)
        (place,) = {cue.place for cue in there_cues}
        assert place.startswith(f"Ray cluster {address}, node ") and {cue.device for cue in there_cues} == {"cpu"}
        assert len(set(re.findall(r"replica \d+", place))) == 2, place  # one part on each of two replicas
        assert all(cue.place is None for cue in lib.get_many([c["id"] for c in here]))
    for home in cluster_homes:
        assert not list(home.rglob("*.sqlite3")) and not list(home.rglob("*.wav"))
        assert not list(home.glob("library/.exchange/*"))  # its job folders went


def test_a_desk_without_the_clusters_token_is_refused_in_one_line(ray_cluster):
    address, _ = ray_cluster
    refused = run_cli("cluster", "status", address, timeout=300, RAY_AUTH_MODE="", RAY_AUTH_TOKEN="")
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and len(lines) == 1 and "RAY_AUTH_TOKEN" in lines[0], refused.stderr


def test_a_continuation_on_the_cluster_starts_from_the_local_cue(ray_cluster):
    address, _ = ray_cluster
    (parent,) = generate("creaking hull", "-n", "1", "-d", "2", "--seed", "4")
    args = ("creaking hull", "-n", "2", "-d", "4", "--seed", "8", "--continue", str(parent["id"]),
            "--prompt-seconds", "1")
    there, here = generate(*args, "--cluster", address), generate(*args)
    assert [c["sha256"] for c in there] == [c["sha256"] for c in here]
    with Library() as lib:
        cue = lib.get(there[0]["id"])
        assert cue.parent_id == parent["id"] and cue.conditioning_source == f"cue {parent['id']}, last 1.00 s"


def test_cluster_status_names_its_nodes_and_models(ray_cluster):
    address, _ = ray_cluster
    found = cluster_status(address)
    assert sorted(n["cpus"] for n in found["nodes"]) == [1, 2] and all(n["alive"] for n in found["nodes"])
    assert len(found["replicas"]) == 3 and all("tiny-music" in r["models"] for r in found["replicas"])
    assert found["queued"] == [] and found["running"] == {}
    shown = run_cli("cluster", "status", address)
    assert "2 CPUs, 0 GPUs" in shown.stdout and "tiny-music" in shown.stdout
    assert "jobs: 0 running, 0 queued" in shown.stdout


def test_ctrl_c_cancels_a_job_on_the_cluster_and_keeps_nothing(ray_cluster, cuedeck_home):
    address, cluster_home = ray_cluster
    proc = streaming_job(address, cuedeck_home, candidates=4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == "cuedeck: cancelled; nothing was written", err
    with Library() as lib:
        assert lib.search() == []
    assert not list((cuedeck_home / "library" / ".exchange").iterdir())
    # the replica is free again: the next job runs at once
    assert generate("short", "-n", "1", "-d", "1", "--cluster", address)


WINDOW = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
from desktop.main_window import MainWindow
from desktop.settings import open_settings

app = QApplication([])
settings = open_settings()
settings.set("engine/cluster", sys.argv[1])
window = MainWindow(settings)
window.show()
window.prompt.prompt.setPlainText("generated on the cluster")
window.prompt.candidates.setValue(2)
window.prompt.duration.setValue(1.0)
window.generate()
ended = []
window.engine.finished.connect(lambda job, cues: (ended.append([c.place for c in cues]), app.quit()))
window.engine.failed.connect(lambda job, message, model: (ended.append(message), app.quit()))
QTimer.singleShot(240_000, app.quit)
app.exec()
rows = [label.toolTip() for label in window.jobs.findChildren(QLabel) if label.toolTip()]
window.close()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "audiocraft"))
print(json.dumps({"ended": ended, "rows": rows, "heavy": heavy}))
"""


def test_the_window_generates_on_the_cluster_set_in_its_settings(ray_cluster):
    address, _ = ray_cluster
    done = subprocess.run([sys.executable, "-c", WINDOW, address], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["ended"] and found["ended"][0] == [found["ended"][0][0]] * 2, found
    assert found["ended"][0][0].startswith(f"Ray cluster {address}, node "), found
    assert any(row.endswith(f" · on Ray cluster {address}") for row in found["rows"]), found["rows"]
    assert found["heavy"] == []  # the window still never loads torch


def replica_pids() -> list[int]:
    """The cluster's replica processes on this machine (a second desk connecting to ask the
    cluster would wait for a core while the replicas use both)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::Replica"):
                pids.append(int(entry.name))
        except OSError:  # it ended meanwhile
            pass
    return sorted(pids)


def test_a_replica_killed_mid_job_fails_that_job_in_one_line_and_the_next_job_gets_a_new_one(ray_cluster, cuedeck_home):
    address, _ = ray_cluster
    proc = streaming_job(address, cuedeck_home, candidates=8)  # 4 + 4 on two of the three replicas
    killed = replica_pids()
    for pid in killed:  # (whichever two run it) as the OOM killer would
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"cuedeck: the Ray cluster at {address} failed (a replica stopped;"), err
    with Library() as lib:
        assert lib.search() == []
    again = generate("after the crash", "-n", "8", "-d", "1", "--cluster", address)  # on two, restarted
    with Library() as lib:
        assert len(again) == 8 and len(re.findall(r"replica \d+", lib.get(again[0]["id"]).place)) == 2
    replicas = json.loads(run_cli("cluster", "status", address, "--json").stdout)["replicas"]
    assert len(replicas) == 3 and not {r["pid"] for r in replicas} & set(killed)


GONE_AFTER_GRANT = """
import os, sys
import ray
from engine import cluster
granted = ray.get(cluster.dispatcher(sys.argv[1]).acquire.remote("a desk that dies", "its job", 2))
print(len(granted), flush=True)
os._exit(0)  # as a desk killed between its turn and the job's start
"""


def test_replicas_granted_to_a_desk_that_dies_before_it_starts_its_job_go_back_to_the_others(ray_cluster):
    address, _ = ray_cluster
    started = time.monotonic()  # the desk's last word comes after this
    done = subprocess.run([sys.executable, "-c", GONE_AFTER_GRANT, address], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.stdout.strip() == "2", done.stderr
    found = cluster_status(address)
    if time.monotonic() - started < SILENT_SECONDS:  # (on a busy machine these two can take longer)
        assert list(found["running"]) == ["its job"], found
    deadline = time.monotonic() + 4 * SILENT_SECONDS
    while (found := cluster_status(address))["running"]:  # given back after SILENT_SECONDS
        assert time.monotonic() < deadline, found


def test_a_model_the_cluster_lacks_is_one_line_that_says_where_to_install_it(ray_cluster):
    address, _ = ray_cluster
    done = run_cli("generate", "x", "-n", "1", "-d", "1", "--model", "audiogen-medium", "--cluster", address)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "audiogen-medium is not installed on the cluster's node" in lines[0]
    assert "run `cuedeck models install audiogen-medium` there" in lines[0]


def test_a_model_is_installed_on_every_node_or_the_node_that_lacks_it_is_named(ray_cluster):
    address, _ = ray_cluster
    done = run_cli("models", "install", "musicgen-small", "--cluster", address, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and lines[-1].startswith("cuedeck: musicgen-small is missing on 1 of 2 nodes, first "),\
        done.stderr
    assert "cannot reach the model hub" in lines[-1], lines[-1]
    assert sorted(line.split(": ", 1)[1].split(" (")[0] for line in done.stdout.splitlines()) == \
        ["installed", "not installed"], done.stdout
    replicas = json.loads(run_cli("cluster", "status", address, "--json").stdout)["replicas"]
    assert sorted("musicgen-small" in r["models"] for r in replicas) == [False, True, True]  # the head's two


MISMATCH = """
import sys
import ray._private.utils as utils
from engine.cli import main

mine = utils.compute_version_info()
utils.compute_version_info = lambda: ("2.0.0", "3.9.1")  # this desk, as an older install would report
sys.exit(main(["cluster", "status", sys.argv[1]]))
"""


def test_a_desk_whose_ray_or_python_differs_from_the_clusters_is_told_which_versions_match(ray_cluster):
    address, _ = ray_cluster
    done = subprocess.run([sys.executable, "-c", MISMATCH, address], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    lines = done.stderr.strip().splitlines()
    ray_version = subprocess.run([sys.executable, "-c", "import ray; print(ray.__version__)"], capture_output=True,
                                 text=True).stdout.strip()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0] == (f"cuedeck: the Ray cluster at {address} runs Ray {ray_version} on Python "
                        f"{sys.version.split()[0]} and this computer Ray 2.0.0 on Python 3.9.1: they must match (the "
                        "same Ray, the same Python 3.x); install the same CueDeck on both")


def test_a_cluster_that_is_not_there_is_one_line_and_nothing_is_kept(cuedeck_home):
    for address, words in (("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
                           ("no-port", "is not a cluster address")):
        done = run_cli("generate", "x", "-n", "1", "-d", "1", "--cluster", address)
        lines = done.stderr.strip().splitlines()
        assert done.returncode in (1, 2) and len(lines) == 1 and words in lines[0], done.stderr
    with Library() as lib:
        assert lib.search() == []


def test_a_desk_is_warned_before_it_reaches_another_computer_without_a_token(monkeypatch):
    from engine.cluster import unprotected

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    assert unprotected("10.0.0.5:6379") and unprotected("gpu-box:6379")
    assert not unprotected("127.0.0.1:6379") and not unprotected("localhost:6379")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert not unprotected("10.0.0.5:6379")
    done = run_cli("generate", "x", "-n", "1", "-d", "1", "--cluster", "192.0.2.1:1", RAY_AUTH_MODE="")
    assert done.stderr.startswith("cuedeck: warning: 192.0.2.1:1 is another computer"), done.stderr


def test_a_cluster_gone_mid_job_is_one_line_and_nothing_is_kept(ray_cluster, cuedeck_home, monkeypatch):
    """The last test of the module: it stops the cluster."""
    address, _ = ray_cluster
    monkeypatch.setenv("RAY_CLIENT_RECONNECT_GRACE_PERIOD", "5")  # how long the desk waits for it to come back
    proc = streaming_job(address, cuedeck_home, candidates=8)
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"cuedeck: the Ray cluster at {address} failed (") and \
        lines[0].endswith("nothing of this job was kept: try again, or generate on this computer"), err
    with Library() as lib:
        assert lib.search() == []
    assert not list((cuedeck_home / "library" / ".exchange").iterdir())
