"""Checking a copied checkpoint before it is imported: torch's weights-only loader, and the
layout of an audiocraft release (run by `cuedeck models import`, never by the window)."""

from pathlib import Path

import torch

from ..errors import BadInput


def check_checkpoint(file: Path) -> None:
    try:
        package = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:
        if "Unsupported global" in str(e):
            raise BadInput(f"refusing {file}: it needs arbitrary pickled code to load; use the "
                           "model's official release files") from None
        raise BadInput(f"{file} is not a readable checkpoint ({type(e).__name__}); copy it again") from None
    if not isinstance(package, dict) or "best_state" not in package or "xp.cfg" not in package:
        raise BadInput(f"{file} is not an audiocraft release checkpoint (no best_state / xp.cfg)")
