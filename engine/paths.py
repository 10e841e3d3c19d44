"""Where CueDeck keeps its data. `CUEDECK_HOME` overrides every directory (tests use it)."""

import os
from pathlib import Path

import platformdirs

APP = "cuedeck"
ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _home() -> Path | None:
    value = os.environ.get("CUEDECK_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = _home()
    return home if home else platformdirs.user_data_path(APP)


def library_dir() -> Path:
    return data_dir() / "library"


def models_dir() -> Path:
    return data_dir() / "models"


def config_dir() -> Path:
    home = _home()
    return home / "config" if home else platformdirs.user_config_path(APP)


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else platformdirs.user_cache_path(APP)


def log_dir() -> Path:
    home = _home()
    return home / "logs" if home else platformdirs.user_log_path(APP)
