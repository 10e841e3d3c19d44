"""Persistent desktop settings (window layout, last-used generation settings, audition)."""

from PySide6.QtCore import QSettings

from engine import paths


def open_settings() -> QSettings:
    """An INI file in CueDeck's config folder (so CUEDECK_HOME covers it too)."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "desktop.ini"), QSettings.Format.IniFormat)


def read(settings: QSettings, key: str, default, kind=None):
    """A typed read: QSettings' INI backend hands back strings."""
    value = settings.value(key, default)
    kind = kind or type(default)
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
        return kind(value)
    except (TypeError, ValueError):
        return default
