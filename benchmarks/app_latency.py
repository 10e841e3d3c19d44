"""What a user waits for (issue 13): the real path of a request, from the click to audible
audio and to every candidate in the library. The engine worker process, the model loaded from
its release files, the streamed previews and the library's write are all the app's own; the
model is the musicgen-small architecture with random weights, imported as musicgen-small.
Cold: a fresh worker (start, torch import, model load, the precision's preparation);
typed: a fresh worker started at the first keystroke and told the model (as the window
does), the request sent when the prompt is typed (`--typing` seconds later); warm: the same
request again, the model loaded. While a job runs, a thread of this process wakes
every 10 ms as an audio callback does, and the benchmark reports how late it woke: what the
worker's threads (`--threads`, default as shipped) cost the window's audio. Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/app_latency.py [--candidates 4] [--duration 8] [--precision int8 fp32]
                                               [--threads 1 2] [--typing 8]

The text encoder is benchmarks/engine.py's lookup table of T5-base's width (T5's weights
cannot be downloaded here), so stand-in T5 files only make the model count as installed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="cuedeck-bench-"))
os.environ.update(CUEDECK_HOME=str(WORK / "home"), HF_HOME=str(WORK / "hf"), HF_HUB_OFFLINE="1")

from engine import exchange, registry  # noqa: E402
from engine import protocol as p  # noqa: E402
from engine.client import EngineClient  # noqa: E402
from engine.library import Library  # noqa: E402
from engine.request import GenerationRequest  # noqa: E402

MODEL = "musicgen-small"
COMMIT = "0" * 40



def write_checkpoint(folder: Path) -> None:
    """benchmarks/engine.py's seeded model, saved in audiocraft's release format (in a child
    process: this one, like the app's, never imports torch)."""
    import importlib.util

    import engine.worker  # noqa: F401 (its stand-ins, before audiocraft)
    import audiocraft
    import torch
    from omegaconf import OmegaConf

    spec = importlib.util.spec_from_file_location("engine_benchmark", ROOT / "benchmarks" / "engine.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = bench.build("cpu")
    for name, module, cfg in (("state_dict.bin", model.lm, bench.lm_config("cpu")),
                              ("compression_state_dict.bin", model.compression_model, bench.compression_config("cpu"))):
        torch.save({"best_state": module.state_dict(), "xp.cfg": OmegaConf.to_yaml(OmegaConf.create(cfg)),
                    "version": audiocraft.__version__, "exported": True}, folder / name)


def install_model() -> None:
    """musicgen-small's release files with random weights, imported as a user imports a folder,
    and stand-in T5 files in the Hugging Face cache."""
    folder = WORK / "release"
    folder.mkdir()
    subprocess.run([sys.executable, __file__, "--checkpoint", str(folder)], check=True)
    subprocess.run([sys.executable, "-m", "engine.cli", "models", "import", MODEL, str(folder)], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    repo = registry.hub_repo_dir(registry.TEXT_ENCODER)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "snapshots" / COMMIT).mkdir(parents=True)
    for f in ("config.json", "spiece.model", "model.safetensors"):
        (repo / "snapshots" / COMMIT / f).write_text("stand-in")
    assert registry.get(MODEL).is_present()


class CallbackProbe(threading.Thread):
    """Wakes every 10 ms, as PortAudio calls an output callback, and keeps how late it woke."""

    PERIOD = 0.010

    def __init__(self):
        super().__init__(daemon=True)
        self.late: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        due = time.perf_counter() + self.PERIOD
        while not self.stopped.wait(max(due - time.perf_counter(), 0)):
            now = time.perf_counter()
            self.late.append(now - due)
            due = max(due + self.PERIOD, now)

    def stop(self) -> str:
        self.stopped.set()
        self.join()
        late = sorted(self.late)
        return (f"woke late by {1000 * late[len(late) // 2]:.2f} ms median, {1000 * late[int(len(late) * 0.999)]:.1f} ms "
                f"in 1000, {1000 * late[-1]:.1f} ms at most")


def one_job(engine: EngineClient, library: Library, request: GenerationRequest) -> dict:
    """Seconds from submitting to the first audible preview, to the engine's result, and to
    every candidate kept in the library; how late the callback probe woke meanwhile."""
    probe = CallbackProbe()
    probe.start()
    started = time.perf_counter()
    job_id = engine.submit(request)
    first_audio = None
    while True:
        for event in engine.poll(0.05):
            if getattr(event, "job_id", None) != job_id:
                continue
            if isinstance(event, p.Preview) and first_audio is None:
                first_audio = time.perf_counter() - started
            elif isinstance(event, p.Error):
                sys.exit(f"the job failed: {event.message}")
            elif isinstance(event, p.Result):
                result = time.perf_counter() - started
                exchange.keep(library, event)  # the job's folder goes with it
                return {"first_audio": first_audio or result, "result": result,
                        "kept": time.perf_counter() - started, "callback": probe.stop()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--precision", nargs="+", default=["int8", "fp32"], choices=["fp32", "bf16", "int8"])
    parser.add_argument("--threads", type=int, nargs="+", default=[0],
                        help="the worker's torch threads (CUEDECK_THREADS); 0: as shipped")
    parser.add_argument("--typing", type=float, default=8.0,
                        help="seconds from the first keystroke to the request, for the typed start")
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        if args.checkpoint:  # (the child process of install_model)
            return write_checkpoint(args.checkpoint)
        install_model()
        print(f"the app's path, {MODEL} architecture (random weights), {args.candidates} × {args.duration:g} s, "
              f"{os.cpu_count()} cores; seconds from the request")
        with Library() as library:
            for precision in args.precision:
                request = GenerationRequest("tense low strings, slow pulse", model=MODEL, candidates=args.candidates,
                                            duration=args.duration, seed=1, precision=precision)
                for threads in args.threads:
                    os.environ["CUEDECK_THREADS"] = str(threads or "")  # the worker reads it as it starts
                    shown = f"{threads} threads" if threads else "as shipped"
                    with EngineClient() as engine:  # a fresh worker, then the model loaded
                        times = {"cold": one_job(engine, library, request), "warm": one_job(engine, library, request)}
                    with EngineClient() as engine:
                        engine.prepare(request)  # the first keystroke
                        time.sleep(args.typing)  # the rest of the prompt
                        times["typed"] = one_job(engine, library, request)
                    for state in ("cold", "typed", "warm"):
                        t = times[state]
                        print(f"  {precision:<5} {shown} {state}: first audio {t['first_audio']:5.1f} s, "
                              f"result {t['result']:5.1f} s, all candidates in the library {t['kept']:5.1f} s; "
                              f"callback probe {t['callback']}")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
