"""The model manager: what each model's state is on this machine, and getting it here.

A model lives in CueDeck's models folder (`<data>/models/<name>/`, audiocraft's release
layout: `state_dict.bin`, `compression_state_dict.bin`) or in the standard Hugging Face
cache when the user already has it there. Real models also need the T5 text encoder, which
transformers looks up in the Hugging Face cache, so it is downloaded there.

Downloads go through huggingface_hub (its endpoint, headers, session and offline switch)
with our own loop around them: progress per chunk, cancel between chunks, a partial file
(`*.incomplete`) that the next install resumes with a byte range, the sha256 the hub gives
for every large file checked before a file takes its final name. No torch here (an import's
checkpoint check is engine.worker.checkpoints).
"""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import paths, registry, staging
from .errors import BadInput, Cancelled, CueDeckError, DownloadFailed, NotFound
from .registry import (CHECKPOINT_FILES, DOWNLOADING, SEPARATOR, SEPARATOR_BAG, TEXT_ENCODER,
                       TEXT_ENCODER_FILES, ModelInfo, hub_repo_dir, separator_present,
                       text_encoder_present)

MANIFEST = "cuedeck-manifest.json"   # sizes and sha256 of the files, written when complete
CHUNK = 1 << 16  # small: a dropped connection keeps all but the last chunk
SPARE_BYTES = 200_000_000             # room to leave on the disk after a download


@dataclass
class ModelState:
    info: ModelInfo
    state: str          # not present | downloading | present | broken
    path: Path | None
    size_bytes: int     # on disk
    detail: str = ""

    def to_dict(self) -> dict:
        return {**self.info.to_dict(), "state": self.state, "path": str(self.path) if self.path else None,
                "size_bytes": self.size_bytes, "detail": self.detail}


def state(info: ModelInfo) -> ModelState:
    own = paths.models_dir() / info.name
    if info.tiny:
        if not info.is_present():
            return ModelState(info, "not present", None, 0, "needs the demucs stem separator: "
                              f"install {registry.SEPARATOR_MODEL.name} once")
        return ModelState(info, "present", own if own.is_dir() else None, _size(own),
                          "built in: untrained, produces noise")
    marker = own / DOWNLOADING
    if marker.exists() and _alive(marker):
        return ModelState(info, "downloading", own, _size(own))
    if marker.exists() or any(own.glob("*.incomplete")):
        partial = _size(own)
        return ModelState(info, "not present", own, partial,
                          f"partly downloaded ({partial / 1e6:.0f} MB): installing it again resumes")
    if info.family == "demucs":
        if not info.is_present():
            return ModelState(info, "not present", None, 0, "splitting cues into stems needs it")
        files = [registry.cached_file(SEPARATOR, f) for f in registry.separator_files()]
        return ModelState(info, "present", files[0].parent, sum(_real_size(f) for f in files),
                          "in the Hugging Face cache")
    encoder = "" if text_encoder_present() else "the T5 text encoder is missing: install downloads it"
    if not encoder and "melody" in info.conditioning and not separator_present():
        encoder = "the demucs stem separator is missing: install downloads it"
    if own.is_dir() and any(own.iterdir()):
        problem = check_folder(own)
        if problem:
            return ModelState(info, "broken", own, _size(own), problem)
        return ModelState(info, "not present" if encoder else "present", own, _size(own), encoder)
    folder = info.local_folder()
    if folder is not None:
        size = sum(_real_size(folder / f) for f in CHECKPOINT_FILES)
        return ModelState(info, "not present" if encoder else "present", folder, size,
                          encoder or "in the Hugging Face cache")
    return ModelState(info, "not present", None, 0)


def states() -> list[ModelState]:
    return [state(info) for info in [*registry.MODELS.values(), registry.SEPARATOR_MODEL]]


def check_folder(folder: Path) -> str:
    """What is wrong with a model folder ('' when nothing): missing files, or files whose
    size differs from the manifest written when they were complete."""
    missing = [f for f in CHECKPOINT_FILES if not (folder / f).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return ""  # copied in by hand: nothing to compare with
    for name, facts in manifest.get("files", {}).items():
        size = (folder / name).stat().st_size if (folder / name).is_file() else -1
        if size != facts["size"]:
            return f"{name} has {size} bytes, expected {facts['size']} (damaged or truncated)"
    return ""


# -- install ---------------------------------------------------------------------------------

def install(name: str, on_progress=lambda done, total, what: None, should_cancel=lambda: False) -> ModelState:
    """Download model `name` (and the text encoder it needs) with progress; cancel keeps the
    partial files, and the next install resumes them."""
    info = registry.installable(name)
    if info.tiny:
        raise BadInput(f"{name} is built in; there is nothing to download")
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise BadInput("offline mode is on (HF_HUB_OFFLINE=1): nothing is downloaded; unset it to "
                       "download, or import a copied folder of the model instead")
    current = state(info)
    if current.state == "downloading":
        raise BadInput(f"{name} is already being downloaded by another CueDeck process")
    if current.state == "present":
        return current
    own = paths.models_dir() / name
    separator = info.family == "demucs"
    have_weights = separator or info.local_folder() is not None and current.state != "broken"  # else: repair
    plan = []  # (repo, file, where it goes, its hub metadata, into the hub cache?)
    if not have_weights:
        plan += [(info.hub_id, f, own / f, _metadata(info.hub_id, f), False) for f in CHECKPOINT_FILES]
    support = [] if separator else [(TEXT_ENCODER, f) for f in TEXT_ENCODER_FILES]
    if separator or "melody" in info.conditioning:  # and the stem separator melody models run
        support += [(SEPARATOR, f) for f in _separator_files()]
    for repo, f in support:
        meta = _metadata(repo, f)
        plan.append((repo, f, _cache_target(repo, meta), meta, True))
    todo = [item for item in plan if not _complete(item[2], item[3])]
    total = sum(meta.size for *_, meta, _ in todo)
    have = sum(_partial(target, meta) for _, _, target, meta, _ in todo)
    disk = own.parent
    disk.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(disk).free
    if total - have + SPARE_BYTES > free:
        raise BadInput(f"installing {name} needs {(total - have) / 1e9:.1f} GB more, and {disk} "
                       f"has {free / 1e9:.1f} GB free; free some space or set CUEDECK_HOME to a bigger disk")
    own.mkdir(exist_ok=True)
    marker = own / DOWNLOADING
    marker.write_text(str(os.getpid()))
    try:
        done = 0
        for repo, filename, target, meta, in_cache in todo:
            def progress(n: int, base=done) -> None:
                on_progress(base + n, total, f"{repo}/{filename}")
            _fetch(repo, filename, target, meta, progress, should_cancel)
            done += meta.size
        for repo, filename, target, meta, in_cache in plan:
            if in_cache:
                _link_snapshot(repo, filename, target, meta)
        if not have_weights:
            files = {f: {"size": meta.size, "sha256": meta.etag} for _, f, _, meta, in_cache in plan if not in_cache}
            (own / MANIFEST).write_text(json.dumps({"hub_id": info.hub_id, "files": files}, indent=2))
    finally:
        marker.unlink(missing_ok=True)
    return state(info)


def _separator_files() -> list[str]:
    """The separator's bag file names its weights: fetch it first (it is a few bytes)."""
    meta = _metadata(SEPARATOR, SEPARATOR_BAG)
    bag = _cache_target(SEPARATOR, meta)
    if not _complete(bag, meta):
        _fetch(SEPARATOR, SEPARATOR_BAG, bag, meta, lambda n: None, lambda: False)
    _link_snapshot(SEPARATOR, SEPARATOR_BAG, bag, meta)
    import yaml

    return [SEPARATOR_BAG] + [f"{sig}.safetensors" for sig in yaml.safe_load(bag.read_text())["models"]]


def _metadata(repo: str, filename: str):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        meta = get_hf_file_metadata(hf_hub_url(repo, filename))
    except (EntryNotFoundError, RepositoryNotFoundError):
        raise DownloadFailed(f"the hub has no file {repo}/{filename}") from None
    except Exception as e:
        raise DownloadFailed(f"cannot reach the model hub for {repo}/{filename} ({type(e).__name__}: {e}); "
                             "check the network, or import a copied folder of the model instead") from None
    if meta.size is None:
        raise DownloadFailed(f"the hub did not give the size of {repo}/{filename}; try again later")
    return meta


def _cache_target(repo: str, meta) -> Path:
    """Where huggingface_hub keeps a file in its cache: blobs/<etag>."""
    return hub_repo_dir(repo) / "blobs" / meta.etag


def _link_snapshot(repo: str, filename: str, blob: Path, meta) -> None:
    """snapshots/<commit>/<file> → blobs/<etag>, and refs/main: the cache layout transformers reads."""
    root = blob.parent.parent
    snapshot = root / "snapshots" / meta.commit_hash / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.unlink(missing_ok=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(meta.commit_hash)


def _complete(target: Path, meta) -> bool:
    return target.is_file() and target.stat().st_size == meta.size


def _partial(target: Path, meta) -> int:
    part = target.with_name(target.name + ".incomplete")
    return min(part.stat().st_size, meta.size) if part.is_file() else 0


def _fetch(repo: str, filename: str, target: Path, meta, progress, should_cancel) -> None:
    """Stream one file into `<target>.incomplete` (resuming what is there), check its sha256,
    then give it its final name."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".incomplete")
    have = _partial(target, meta)
    if part.is_file() and part.stat().st_size > meta.size:
        part.unlink()
        have = 0
    headers = build_hf_headers()
    if have:
        headers["Range"] = f"bytes={have}-"
    progress(have)
    try:
        with get_session().stream("GET", meta.location or hf_hub_url(repo, filename), headers=headers,
                                  follow_redirects=True, timeout=30) as response:
            hf_raise_for_status(response)
            if have and response.status_code != 206:  # the server ignored the range: start over
                have = 0
            with open(part, "ab" if have else "wb") as f:
                for chunk in response.iter_bytes(CHUNK):
                    if should_cancel():
                        raise Cancelled(f"download cancelled; installing again resumes it "
                                        f"({(have / 1e6):.0f} MB of {repo}/{filename} kept)")
                    f.write(chunk)
                    have += len(chunk)
                    progress(have)
    except (Cancelled, KeyboardInterrupt):
        raise
    except Exception as e:
        if isinstance(e, CueDeckError):
            raise
        raise DownloadFailed(f"download of {repo}/{filename} stopped ({type(e).__name__}: {e}); "
                             "run the install again to resume it") from None
    if have != meta.size:
        raise DownloadFailed(f"download of {repo}/{filename} stopped at {have} of {meta.size} bytes; "
                             "run the install again to resume it")
    if len(meta.etag) == 64 and _sha256(part) != meta.etag:  # LFS files: the etag is their sha256
        part.unlink()
        raise DownloadFailed(f"{repo}/{filename} arrived corrupted (its sha256 does not match the hub's); "
                             "the damaged file was deleted: run the install again")
    os.replace(part, target)


# -- import and remove ------------------------------------------------------------------------

def import_folder(name: str, source: Path, check_file) -> ModelState:
    """Copy a model folder in audiocraft's release layout into the models folder, after
    `check_file(path)` passed for each of its files (the CLI passes
    engine.worker.checkpoints.check_checkpoint: torch's weights-only loader; nothing else is
    trusted)."""
    info = registry.installable(name)
    if info.tiny:
        raise BadInput(f"{name} is built in; there is nothing to import")
    source = Path(source).expanduser()
    if info.family == "demucs":
        return _import_separator(info, source)
    if not source.is_dir():
        raise BadInput(f"{source} is not a folder; give the folder holding {' and '.join(CHECKPOINT_FILES)}")
    missing = [f for f in CHECKPOINT_FILES if not (source / f).is_file()]
    if missing:
        raise BadInput(f"{source} lacks {', '.join(missing)}; a model folder holds {' and '.join(CHECKPOINT_FILES)}")
    for f in CHECKPOINT_FILES:
        check_file(source / f)
    own = paths.models_dir() / name
    staging.sweep(own.parent)  # imports and removals a kill interrupted
    part = staging.part_path(own)
    try:
        part.mkdir(parents=True)
        files = {}
        for f in CHECKPOINT_FILES:
            shutil.copyfile(source / f, part / f)
            files[f] = {"size": (part / f).stat().st_size, "sha256": _sha256(part / f)}
        (part / MANIFEST).write_text(json.dumps({"hub_id": info.hub_id, "source": str(source), "files": files}, indent=2))
        if own.exists():
            _remove_tree(own)
        os.replace(part, own)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return state(info)


def _import_separator(info: ModelInfo, source: Path) -> ModelState:
    """Copy a folder holding the separator's bag file and the safetensors files it names into
    the hub cache (under a snapshot named by their digests), as an install would place them."""
    import yaml
    from safetensors import safe_open

    bag = source / SEPARATOR_BAG
    if not bag.is_file():
        raise BadInput(f"{source} lacks {SEPARATOR_BAG}; the separator's folder holds it and the "
                       f".safetensors files it names (as the hub's {SEPARATOR} has them)")
    try:
        files = [SEPARATOR_BAG] + [f"{sig}.safetensors" for sig in yaml.safe_load(bag.read_text())["models"]]
    except (ValueError, TypeError, KeyError, yaml.YAMLError):
        raise BadInput(f"{bag} does not list the separator's models; copy it from {SEPARATOR} again") from None
    for f in files[1:]:
        try:
            with safe_open(str(source / f), framework="numpy") as weights:
                klass = (weights.metadata() or {}).get("klass", "")
        except Exception:
            raise BadInput(f"{source / f} is missing or not a safetensors file; copy it from {SEPARATOR} again") from None
        if not klass.startswith("demucs."):  # demucs imports the class it names: only its own
            raise BadInput(f"{source / f} is not a demucs separator (it names {klass or 'no class'})")
    digest = hashlib.sha1("".join(_sha256(source / f) for f in files).encode()).hexdigest()
    root = hub_repo_dir(SEPARATOR)
    snapshot = root / "snapshots" / digest
    if not snapshot.is_dir():
        part = staging.part_path(snapshot)
        try:
            part.mkdir(parents=True)
            for f in files:
                shutil.copyfile(source / f, part / f)
            os.replace(part, snapshot)
        except BaseException:
            shutil.rmtree(part, ignore_errors=True)
            raise
    (root / "refs").mkdir(exist_ok=True)
    write_ref = staging.part_path(root / "refs" / "main")
    write_ref.write_text(digest)
    os.replace(write_ref, root / "refs" / "main")
    return state(info)


def remove(name: str) -> list[Path]:
    """Delete the model's files (CueDeck's folder and its entry in the hub cache); returns
    what was removed. The text encoder stays: other models share it."""
    info = registry.installable(name)
    removed = []
    own = paths.models_dir() / name
    if info.tiny:
        if own.exists():
            _remove_tree(own)
            removed.append(own)
        return removed  # rebuilt on next use
    if own.exists():
        if (own / DOWNLOADING).exists() and _alive(own / DOWNLOADING):
            raise BadInput(f"{name} is being downloaded; cancel the download first")
        _remove_tree(own)
        removed.append(own)
    if info.hub_id:
        cached = hub_repo_dir(info.hub_id)
        if cached.exists():
            _remove_tree(cached)
            removed.append(cached)
    if not removed:
        raise NotFound(f"{name} is not on this machine; nothing to remove")
    return removed


# -- helpers ------------------------------------------------------------------------------------

def _remove_tree(folder: Path) -> None:
    """Rename first, then delete: a model is never seen half-removed."""
    trash = staging.part_path(folder.with_name(f"{folder.name}-removed"))
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        while block := f.read(1 << 23):
            digest.update(block)
    return digest.hexdigest()


def _size(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _real_size(file: Path) -> int:
    try:
        return file.resolve().stat().st_size
    except OSError:
        return 0


def _alive(marker: Path) -> bool:
    """Whether the process that wrote a download marker still runs."""
    try:
        return staging.process_alive(int(marker.read_text().strip()))
    except (OSError, ValueError):
        return False
