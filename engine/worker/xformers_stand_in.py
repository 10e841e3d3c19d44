"""A stand-in for xformers, which audiocraft imports at start-up and CueDeck never runs.

audiocraft's transformer imports `xformers.ops` and uses three of its names even on torch's
attention backend, the only one CueDeck runs (engine.worker.generation sets it): `unbind`, to
split packed queries, keys and values; `LowerTriangularMask`, as a flag meaning "causal"; and
`memory_efficient_attention`, which it checks is importable. xformers itself adds 1.4 s to
every worker start (it imports torch's compiler) and its kernels do not load with CueDeck's
torch, so it is not installed: `install()` puts this module in its place before audiocraft
is imported (engine/worker/__init__.py).
"""

import sys
import types


def unbind(x, dim: int = 0):
    return x.unbind(dim)


class LowerTriangularMask:
    """A causal mask, as a flag: torch's attention gets is_causal=True for it."""


def memory_efficient_attention(*args, **kwargs):
    raise RuntimeError("xformers' attention is not available in CueDeck; "
                       "call audiocraft.modules.transformer.set_efficient_attention_backend('torch')")


def install() -> None:
    """Make `from xformers import ops` give this module (unless xformers is already loaded)."""
    if "xformers" not in sys.modules:
        package = types.ModuleType("xformers", "CueDeck's stand-in: engine.worker.xformers_stand_in")
        package.ops = sys.modules[__name__]
        sys.modules.update({"xformers": package, "xformers.ops": package.ops})
