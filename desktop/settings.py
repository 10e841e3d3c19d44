"""The desktop's settings: every key declared once with its type and default, read and written
typed (an INI file hands back strings; a value that no longer converts reads as its default)."""

from PySide6.QtCore import QByteArray, QSettings

from engine import paths

SCHEMA: dict[str, tuple[type, object]] = {
    "window/geometry": (QByteArray, None), "window/state": (QByteArray, None),
    "prompt/text": (str, ""), "prompt/negative": (str, ""), "prompt/model": (str, "tiny-music"),
    "prompt/candidates": (int, 4), "prompt/duration": (float, 8.0), "prompt/seed": (int, 1),
    "prompt/top_k": (int, 250), "prompt/top_p": (float, 0.0), "prompt/temperature": (float, 1.0),
    "prompt/cfg": (float, 3.0), "prompt/fixed_seed": (bool, False), "prompt/advanced": (bool, False),
    "prompt/bpm": (float, 0.0), "prompt/key": (str, ""), "prompt/loop": (bool, False), "prompt/bars": (int, 4),
    "prompt/beats_per_bar": (int, 4),
    "audio/device": (str, ""),  # "" is the system default
    "audio/loop": (bool, False), "audio/auto_audition": (bool, True), "audio/match_loudness": (bool, True),
    "engine/device": (str, "auto"), "engine/precision": (str, "fp32"),
    "engine/cluster": (str, ""),  # a Ray cluster's host:port; "" is this computer
    "view/theme": (str, "system"), "view/common_scale": (bool, False),
    "export/folder": (str, ""), "export/midi": (bool, False), "export/commercial": (bool, False),
    "export/loudness": (str, "none"), "export/lufs": (float, -23.0), "export/true_peak": (float, -1.0),
    "export/stems_follow": (bool, True), "export/sign": (bool, True), "export/private": (bool, False),
    "export/aaf": (str, "linked"),
    "timeline/open": (str, ""),
}


class Settings:
    def __init__(self, store: QSettings):
        self._store = store

    def get(self, key: str):
        kind, default = SCHEMA[key]
        value = self._store.value(key)
        if value is None:
            return default
        try:
            if kind is bool:
                return value if isinstance(value, bool) else {"true": True, "false": False}[str(value).lower()]
            if kind is QByteArray:
                return value if isinstance(value, QByteArray) else default
            return kind(value)
        except (KeyError, TypeError, ValueError):
            return default

    def set(self, key: str, value) -> None:
        kind, _ = SCHEMA[key]  # an undeclared key is a bug: KeyError
        self._store.setValue(key, "" if value is None and kind is str else value)

    def sync(self) -> None:
        self._store.sync()


def open_settings() -> Settings:
    """An INI file in CueDeck's config folder (so CUEDECK_HOME covers it too)."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return Settings(QSettings(str(folder / "desktop.ini"), QSettings.Format.IniFormat))
