"""The torch side of the engine: everything that imports torch or audiocraft lives here and
runs in the worker process only (`python -m engine.worker`). The desktop never imports this
package; the rest of `engine` reaches it only through the protocol (see pyproject.toml's
import-linter contracts)."""

from . import stand_ins

stand_ins.install()  # before any module of this package imports audiocraft
