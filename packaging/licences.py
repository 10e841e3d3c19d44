"""THIRD-PARTY-LICENSES.txt for the frozen app: the licence of every package and system
library the bundle holds, found from the files PyInstaller collected (called by the spec)."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

LICENCE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE)", re.IGNORECASE)

HEADER = """CueDeck {version}: licences of what this folder holds.

CueDeck and the audiocraft code are MIT-licensed. The MusicGen, AudioGen and MAGNeT weights
(downloaded separately, in File > Models) are CC-BY-NC-4.0: non-commercial use only.
Below: every Python package and system library bundled here, with its licence text.
"""


def _owners() -> dict[Path, importlib.metadata.Distribution]:
    """Each installed file, resolved, and the distribution that installed it."""
    owners = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            owners[Path(dist.locate_file(file)).resolve()] = dist
    return owners


def _licence_texts(dist: importlib.metadata.Distribution) -> list[str]:
    return [Path(dist.locate_file(f)).read_text(errors="replace") for f in dist.files or ()
            if ".dist-info" in str(f) and LICENCE_FILE.search(f.name)]


def _debian_package(path: Path) -> str | None:
    found = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    return found.stdout.split(":")[0] if found.returncode == 0 else None


def notice(sources: list[str], version: str) -> str:
    """The licence notice for a bundle built from the files `sources`."""
    owners = _owners()
    dists, debs, python = {}, set(), False
    for source in map(Path, sources):
        dist = owners.get(source.resolve())
        if dist is not None:
            dists[dist.metadata["Name"].lower()] = dist
        elif str(source).startswith(sys.base_prefix):
            python = True
        elif (deb := _debian_package(source.resolve())) is not None:
            debs.add(deb)
    parts = [HEADER.format(version=version)]
    if python:
        parts.append("== Python (the interpreter and its standard library) ==\n"
                     + (Path(sys.base_prefix) / "lib" / "python3.11" / "LICENSE.txt").read_text())
    for name in sorted(dists):
        meta = dists[name].metadata
        licence = meta.get("License-Expression") or " / ".join(
            c.split("::")[-1].strip() for c in meta.get_all("Classifier") or () if c.startswith("License ::"))
        if not licence and len(meta.get("License") or "") < 100:
            licence = meta.get("License") or "see its text below, or its home page"
        parts.append(f"== {meta['Name']} {meta['Version']}: {licence} ==\n" + "\n".join(_licence_texts(dists[name])))
    for deb in sorted(debs):
        copyright = Path("/usr/share/doc") / deb.split(":")[0] / "copyright"
        parts.append(f"== {deb} (system library) ==\n"
                     + (copyright.read_text(errors="replace") if copyright.exists() else "see its Debian package"))
    return "\n\n".join(parts) + "\n"
