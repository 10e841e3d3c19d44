"""Splitting a cue into stems (engine.worker.separation) with the released htdemucs's
architecture (demucs's defaults, 26.9 M parameters, 7.8 s segments) and random weights, as
the real weights cannot be downloaded here: the same loader, the same apply_model call.
Prints seconds of splitting per minute of audio on this machine's CPU (or its GPU).

    .venv/bin/python benchmarks/separation.py
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
CACHE = Path(tempfile.mkdtemp(prefix="cuedeck-bench-hf-"))
os.environ.update(HF_HUB_CACHE=str(CACHE), HF_HUB_OFFLINE="1")  # before huggingface_hub reads them

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.worker import tiny_models  # noqa: E402
from engine.worker.generation import pick_device  # noqa: E402
from engine.worker.separation import Separator  # noqa: E402


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    tiny_models.build_separator(CACHE, size="htdemucs")
    device = pick_device()
    separator = Separator(device)
    rng = np.random.default_rng(0)
    separator.separate(rng.standard_normal((2, 44100 * 8)).astype(np.float32) * 0.1, 44100,
                       lambda f: None, lambda: False)  # loads the model, warms the kernels
    for rate, channels, label in ((44100, 2, "44.1 kHz stereo"), (32000, 1, "32 kHz mono (MusicGen)")):
        audio = (0.1 * rng.standard_normal((channels, rate * 60))).astype(np.float32)
        started = time.perf_counter()
        stems, _ = separator.separate(audio, rate, lambda f: None, lambda: False)
        seconds = time.perf_counter() - started
        assert all(s.shape == audio.shape for s in stems.values())
        print(f"separation, {label}: {seconds:.1f} s per minute of audio on {device} "
              f"({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(CACHE, ignore_errors=True)
