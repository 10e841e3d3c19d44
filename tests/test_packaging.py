"""The freedesktop entry launches an installed command and names an icon that exists."""

import configparser
import shutil
import sys
import tomllib
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parent.parent


def test_desktop_entry_points_at_the_installed_app_and_its_icon(qapp):
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(ROOT / "packaging" / "cuedeck.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "CueDeck"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command = desktop["Exec"].split()[0]
    assert scripts[command] == "desktop.app:main"
    assert shutil.which(command, path=str(Path(sys.executable).parent))
    icon = QImage(str(ROOT / "packaging" / f"{desktop['Icon']}.svg"))
    assert not icon.isNull() and icon.width() >= 48
