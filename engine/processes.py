"""How CueDeck starts its own helper processes (the engine worker, `cuedeck models` for the
Models dialog, transcription, analysis): `python -m MODULE` from a checkout; from a frozen
app, which has no Python to run `-m` with, its own executable in module mode
(`--cuedeck-module MODULE`), which the app's entry points hand to `run_module_mode`."""

import runpy
import sys

MODULE_MODE = "--cuedeck-module"


def command(module: str, *args: str) -> list[str]:
    """The command line that runs `module` (as `python -m` would) with `args`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, MODULE_MODE, module, *args]
    return [sys.executable, "-m", module, *args]


def run_module_mode(argv: list[str]) -> bool:
    """If `argv` (without the program) asks for module mode, run that module as `__main__`
    with the rest as its arguments and say so; otherwise do nothing."""
    if len(argv) < 2 or argv[0] != MODULE_MODE:
        return False
    sys.argv = [argv[1], *argv[2:]]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    return True
