"""Stand-ins for two modules audiocraft imports at start-up and CueDeck never runs; `install()`
puts them in place before audiocraft is imported (engine/worker/__init__.py).

- xformers: audiocraft's transformer imports `xformers.ops` and uses three of its names even
  on torch's attention backend, the only one CueDeck runs (engine.worker.generation sets it):
  `unbind`, to split packed queries, keys and values; `LowerTriangularMask`, as a flag meaning
  "causal"; and `memory_efficient_attention`, which it checks is importable. xformers itself
  added 1.4 s to every worker start (it imports torch's compiler) and its kernels do not load
  with CueDeck's torch, so it is not installed.
- audiocraft.models.multibanddiffusion: `audiocraft.models` imports MultiBandDiffusion (a
  diffusion decoder CueDeck does not offer), and with it audiocraft's training solvers, their
  metrics, torchmetrics, CLAP and onnxruntime: 340 modules a worker never uses.
"""

import sys
import types

MULTIBAND_DIFFUSION = "audiocraft.models.multibanddiffusion"


def unbind(x, dim: int = 0):
    return x.unbind(dim)


class LowerTriangularMask:
    """A causal mask, as a flag: torch's attention gets is_causal=True for it."""


def memory_efficient_attention(*args, **kwargs):
    raise RuntimeError("xformers' attention is not available in CueDeck; "
                       "call audiocraft.modules.transformer.set_efficient_attention_backend('torch')")


def _no_diffusion(*args, **kwargs):
    raise RuntimeError("audiocraft's MultiBandDiffusion is not available in CueDeck's worker")


class MultiBandDiffusion:
    __init__ = _no_diffusion
    get_mbd_musicgen = get_mbd_24khz = staticmethod(_no_diffusion)


def install() -> None:
    """Make `from xformers import ops` give this module, and `audiocraft.models` find this
    module's MultiBandDiffusion (unless the real ones are already loaded)."""
    if "xformers" not in sys.modules:
        package = types.ModuleType("xformers", "CueDeck's stand-in: engine.worker.stand_ins")
        package.ops = sys.modules[__name__]
        sys.modules.update({"xformers": package, "xformers.ops": package.ops})
    if MULTIBAND_DIFFUSION not in sys.modules:
        diffusion = types.ModuleType(MULTIBAND_DIFFUSION, "CueDeck's stand-in: engine.worker.stand_ins")
        diffusion.MultiBandDiffusion = MultiBandDiffusion
        sys.modules[MULTIBAND_DIFFUSION] = diffusion
