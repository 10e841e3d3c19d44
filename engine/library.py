"""The library: one SQLite database plus the audio files it points to.

Rules: schema version in `PRAGMA user_version` with forward migrations, WAL journal,
explicit transactions. A file is in place before its row exists and its row is gone before
the file is removed, so a kill at any moment leaves no row without its file. Before a writer
places or removes files it lists them in a journal (`audio/.journal-*.PID.json`); opening
the library finishes the work of writers that are gone: the files their journal lists that
no row claims are removed, so a kill leaves no file without its row either.
"""

import contextlib
import json
import os
import re
import shutil
import sqlite3
import unicodedata
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, analysis, exchange, faults, loops, loudness, paths, registry, resources, staging, ucs
from .analysis import Measures
from .audio_io import write_atomic, write_wav_atomic
from .cue import Cue
from .cue_audio import file_problem
from .errors import BadInput, CueDeckError, DiskFull, GenerationFailed, LibraryDamaged, LibraryError, NotFound
from .request import GenerationRequest
from .timeline import Timeline, check_name

DB_NAME = "library.sqlite3"
AUDIO_DIR = "audio"
MAX_TAG_CHARS = 64
MAX_NOTES_CHARS = 10_000
# What a search can sort by: name → column (ties newest first).
SORTS = {"newest": "id", "rating": "rating", "prompt": "prompt COLLATE NOCASE", "model": "model",
         "duration": "duration", "seed": "seed", "catid": "catid", "bpm": "bpm", "key": "musical_key",
         "brightness": "centroid_hz", "loudness": "loudness_lufs", "peak": "true_peak_db",
         "onsets": "onset_rate"}

MIGRATIONS = [
    # 1: cues with their full provenance, and tags. (Statements are split on ";", so no
    # semicolon inside a comment.)
    """
    CREATE TABLE cues (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,            -- relative to the library folder
        prompt TEXT NOT NULL,
        model TEXT NOT NULL,
        licence TEXT NOT NULL,
        audiocraft_version TEXT NOT NULL,
        cuedeck_version TEXT NOT NULL,
        duration REAL NOT NULL,               -- seconds of audio in the file
        sample_rate INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        top_k INTEGER NOT NULL,
        top_p REAL NOT NULL,
        temperature REAL NOT NULL,
        cfg_coef REAL NOT NULL,
        seed INTEGER NOT NULL,                -- this cue's own seed
        request_seed INTEGER NOT NULL,
        batch_size INTEGER NOT NULL,
        batch_index INTEGER NOT NULL,
        job_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        loudness_lufs REAL,                   -- integrated (BS.1770), NULL for silence
        peak REAL NOT NULL,                   -- sample peak, 1.0 = full scale
        conditioning_sha256 TEXT,             -- melody or audio prompt, when one was used
        parent_id INTEGER REFERENCES cues(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,             -- ISO 8601, UTC
        rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
        catid TEXT,
        notes TEXT NOT NULL DEFAULT '',
        keep INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tags (
        cue_id INTEGER NOT NULL REFERENCES cues(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (cue_id, tag)
    );
    CREATE INDEX tags_by_tag ON tags(tag);
    CREATE INDEX cues_by_created ON cues(created_at);
    """,
    # 2: timelines, each a JSON document (engine.timeline.Timeline.to_dict).
    """
    CREATE TABLE timelines (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        data TEXT NOT NULL,
        modified_at TEXT NOT NULL
    );
    """,
    # 3: where conditioning audio came from (a cue and which part of it, or a file).
    """
    ALTER TABLE cues ADD COLUMN conditioning_source TEXT;
    """,
    # 4: where a cue was generated and at which precision (NULL for older cues, and `place`
    # for cues made on this computer).
    """
    ALTER TABLE cues ADD COLUMN device TEXT;
    ALTER TABLE cues ADD COLUMN precision TEXT;
    ALTER TABLE cues ADD COLUMN place TEXT;
    """,
    # 5: the negative prompt guidance steered away from ('' for none).
    """
    ALTER TABLE cues ADD COLUMN negative TEXT NOT NULL DEFAULT '';
    """,
    # 6: what each cue sounds like, measured (engine.analysis; all NULL until measured, then
    # centroid_hz is set), the tempo and key its request asked for, and whether it is a loop
    # (of `bars` at that tempo, when it has one).
    """
    ALTER TABLE cues ADD COLUMN bpm REAL;
    ALTER TABLE cues ADD COLUMN bpm_confidence REAL;
    ALTER TABLE cues ADD COLUMN musical_key TEXT;
    ALTER TABLE cues ADD COLUMN key_confidence REAL;
    ALTER TABLE cues ADD COLUMN true_peak_db REAL;
    ALTER TABLE cues ADD COLUMN centroid_hz REAL;
    ALTER TABLE cues ADD COLUMN onset_rate REAL;
    ALTER TABLE cues ADD COLUMN target_bpm REAL;
    ALTER TABLE cues ADD COLUMN target_key TEXT;
    ALTER TABLE cues ADD COLUMN loop INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cues ADD COLUMN bars INTEGER;
    ALTER TABLE cues ADD COLUMN beats_per_bar INTEGER;
    CREATE INDEX cues_by_bpm ON cues(bpm);
    """,
    # 7: stems: a cue split from its parent (parent_id), its instrument and what split it.
    """
    ALTER TABLE cues ADD COLUMN role TEXT;
    ALTER TABLE cues ADD COLUMN separator TEXT;
    CREATE INDEX cues_by_parent ON cues(parent_id);
    """,
]


_COLUMNS = [f.name for f in fields(Cue) if f.name not in ("id", "tags", "measures")]
_MEASURED = {f.name: "musical_key" if f.name == "key" else f.name for f in fields(Measures)}  # field: column
_SELECT = ("SELECT cues.*, (SELECT group_concat(tag, char(31)) FROM "
           "(SELECT tag FROM tags WHERE cue_id = cues.id ORDER BY tag)) AS tag_list FROM cues")


class Library:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else paths.library_dir()
        self.audio_dir = self.root / AUDIO_DIR
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryError(f"cannot use library folder {self.root}: {e.strerror}; "
                               "set CUEDECK_HOME to a writable folder") from None
        db = self.root / DB_NAME
        try:
            self._db = sqlite3.connect(db, timeout=10, isolation_level=None, factory=_Connection)
        except sqlite3.Error as e:
            raise _sql_error(e, self.root) from None
        self._db.root = self.root
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except BaseException:
            self._db.close()
            raise
        try:
            self.audio_dir.mkdir(exist_ok=True)
            self.recover()
        except OSError:
            pass  # a read-only or full disk: reading still works; writing says why

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # also after a COMMIT that failed (e.g. disk full)
                self._db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        # Under the write lock: the UI and the worker may open a new library at the same time.
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise LibraryError(f"the library at {self.root} was written by a newer CueDeck "
                                   f"(schema {version}); update CueDeck to open it")
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in sql.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def recover(self) -> list[Path]:
        """Finish the work of writers that were killed: remove their `.part` files and the
        files their journal lists that no row claims. Returns what was removed."""
        removed = staging.sweep(self.audio_dir) + staging.sweep(self.root / exchange.FOLDER)
        for journal in self.audio_dir.glob(".journal-*.json"):
            if _live(journal):
                continue
            names = _journal_names(journal)
            claimed = self._claimed(names)
            for name in names:
                path = self.root / name
                if name not in claimed and path.is_file():
                    path.unlink()
                    removed.append(path)
            journal.unlink(missing_ok=True)
        return removed

    @contextlib.contextmanager
    def _journal(self, files: list[Path]):
        """List `files` (about to be placed or removed) for `recover` while the block runs."""
        journal = self.audio_dir / f".journal-{uuid.uuid4().hex[:8]}.{os.getpid()}.json"
        write_atomic(journal, json.dumps([str(f.relative_to(self.root)) for f in files]).encode())
        try:
            yield
        finally:
            journal.unlink(missing_ok=True)

    def _claimed(self, names: list[str]) -> set[str]:
        claimed = set()
        for start in range(0, len(names), 500):
            chunk = names[start:start + 500]
            rows = self._db.execute(f"SELECT path FROM cues WHERE path IN ({', '.join('?' * len(chunk))})", chunk)
            claimed.update(r[0] for r in rows)
        return claimed

    def check(self, repair: bool = False, on_progress=lambda done, total: None) -> "CheckReport":
        """Every cue's file against its recorded sha256, and every file against
        the rows. With `repair`: remove orphan files and the rows of missing files (damaged
        files are the user's to judge: they are listed, not touched)."""
        report = CheckReport()
        if repair:
            report.removed += self.recover()
        rows = self._db.execute("SELECT id, path, sha256 FROM cues ORDER BY id").fetchall()
        for done, row in enumerate(rows, start=1):
            problem = file_problem(self.root / row["path"], row["sha256"])
            if problem == "missing":
                report.missing.append(row["id"])
            elif problem:
                report.damaged.append((row["id"], problem))
            on_progress(done, len(rows))
        known = {r["path"] for r in rows} | {str(Path(r["path"]).with_suffix(".mid")) for r in rows}
        busy = {n for j in self.audio_dir.glob(".journal-*.json") if _live(j) for n in _journal_names(j)}
        for path in sorted(self.audio_dir.iterdir()):
            name = str(path.relative_to(self.root))
            if path.is_file() and not path.name.startswith(".") and name not in known and name not in busy:
                report.orphans.append(path)
        if repair:
            for path in report.orphans:
                path.unlink(missing_ok=True)
            if report.missing:
                with self.transaction() as db:
                    db.executemany("DELETE FROM cues WHERE id = ?", [(i,) for i in report.missing])
        return report

    # -- adding -------------------------------------------------------------------------

    def add_batch(self, request: GenerationRequest, audio: np.ndarray, sample_rate: int,
                  seeds: list[int], job_id: str, audiocraft_version: str,
                  conditioning: tuple[str, str] | None = None, device: str | None = None,
                  place: str | None = None, measures: list[Measures | None] | None = None) -> list[Cue]:
        """Write each candidate's file, then all rows in one transaction. `conditioning` is
        (sha256, source) of the audio a continuation or melody started from; `device` and
        `place` where the engine ran; `measures` each candidate's, where the engine measured
        it (else the background pass does). (Results from the engine arrive through exchange.keep.)"""
        info = registry.get(request.model)
        if not np.isfinite(audio).all():
            raise GenerationFailed(f"{info.name} produced invalid samples (NaN or infinity); nothing "
                                   "was kept: try again, or another seed or precision")
        measures = measures or [None] * len(audio)
        files = [self.audio_dir / f"{_slug(request.prompt)}_{seed}_{job_id[:8]}-{index + 1}.wav"
                 for index, seed in enumerate(seeds)]
        chunks = [loops.chunks(audio.shape[-1], sample_rate, request.bpm, request.bars, request.beats_per_bar,
                               m.key if m else None) if request.loop else b"" for m in measures]
        rows = [{
            "prompt": request.prompt, "model": info.name, "licence": info.licence,
            "audiocraft_version": audiocraft_version, "top_k": request.top_k,
            "top_p": request.top_p, "temperature": request.temperature,
            "cfg_coef": request.cfg_coef, "seed": seed, "request_seed": request.seed,
            "batch_size": len(files), "batch_index": index, "job_id": job_id,
            "conditioning_sha256": conditioning[0] if conditioning else None,
            "conditioning_source": conditioning[1] if conditioning else None,
            "negative": request.negative, "parent_id": request.parent_id,
            "device": device, "precision": request.precision, "place": place,
            "target_bpm": request.bpm, "target_key": request.key, "loop": int(request.loop),
            "bars": request.bars, "beats_per_bar": request.beats_per_bar if request.bars else None,
            **_measure_columns(measures[index]),
        } for index, seed in enumerate(seeds)]
        return self._add(files, audio, sample_rate, chunks, rows)

    def add_stems(self, parent: Cue, roles: list[str], audio: np.ndarray, sample_rate: int, job_id: str,
                  separator: str, device: str, measures: list[Measures | None]) -> list[Cue]:
        """`parent`'s stems (audio [stems, channels, samples], each `roles`' instrument) as its
        children: the facts of its making, the separator that split it, and a loop's chunks."""
        if not np.isfinite(audio).all():
            raise GenerationFailed("the separator produced invalid samples (NaN or infinity); no stems "
                                   "were kept: try again")
        files = []
        for role in roles:
            path = self.audio_dir / f"{parent.path.stem}_{role}.wav"
            files.append(path if not path.exists() else path.with_name(f"{path.stem}-{job_id[:8]}.wav"))
        inherited = {name: getattr(parent, name) for name in (
            "prompt", "negative", "model", "licence", "audiocraft_version", "top_k", "top_p", "temperature",
            "cfg_coef", "seed", "request_seed", "precision", "place", "catid", "target_bpm", "target_key",
            "bars", "beats_per_bar")}
        chunks = [loops.chunks(audio.shape[-1], sample_rate, parent.target_bpm, parent.bars,
                               parent.beats_per_bar, m.key if m else None)
                  if parent.loop else b"" for m in measures]
        rows = [{**inherited, "loop": int(parent.loop), "batch_size": len(roles), "batch_index": index,
                 "job_id": job_id, "parent_id": parent.id, "role": role, "separator": separator,
                 "device": device, **_measure_columns(measures[index])} for index, role in enumerate(roles)]
        return self._add(files, audio, sample_rate, chunks, rows)

    def _add(self, files: list[Path], audio: np.ndarray, sample_rate: int, chunks: list[bytes],
             rows: list[dict]) -> list[Cue]:
        """Write `audio` [cues, channels, samples] into `files` (a WAV each, with its `chunks`),
        then the cues' `rows` (completed by what the files say) in one transaction: rows and
        files all or none."""
        created = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        resources.require_space(self.audio_dir, audio.nbytes + 1_000_000, "the library")
        levels = [loudness.measure(one.T, sample_rate) for one in audio]
        ids = []
        with self._journal(files):
            try:
                digests = [write_wav_atomic(path, one, sample_rate, extra)
                           for path, one, extra in zip(files, audio, chunks)]
                faults.point("library.files-in-place")
                with self.transaction() as db:
                    for path, digest, level, row in zip(files, digests, levels, rows):
                        row = {**row, "path": str(path.relative_to(self.root)), "sha256": digest,
                               "cuedeck_version": __version__, "created_at": created,
                               "duration": audio.shape[-1] / sample_rate, "sample_rate": sample_rate,
                               "channels": audio.shape[1], "loudness_lufs": level[0], "peak": level[1]}
                        names = ", ".join(row)
                        marks = ", ".join(f":{k}" for k in row)
                        ids.append(db.execute(f"INSERT INTO cues ({names}) VALUES ({marks})", row).lastrowid)
            except BaseException:  # no row was committed: none of the files may stay
                for path in files:
                    path.unlink(missing_ok=True)
                raise
            faults.point("library.committed")
        return [self.get(i) for i in ids]

    # -- reading ------------------------------------------------------------------------

    def get(self, cue_id: int) -> Cue:
        row = self._db.execute(f"{_SELECT} WHERE id = ?", (cue_id,)).fetchone()
        if row is None:
            raise NotFound(f"no cue with id {cue_id}; `cuedeck library list` shows the ids")
        return self._cue(row)

    def find(self, text: str = "", tag: str | None = None, min_rating: int | None = None,
             model: str | None = None, catid: str | None = None, category: str | None = None,
             kept: bool = False, bpm: tuple[float, float] | None = None, key: str | None = None,
             tone: str | None = None, sort: str = "newest", descending: bool = False,
             limit: int | None = None, offset: int = 0) -> list[int]:
        """Ids of the matching cues, newest first unless `sort` (one of SORTS) says otherwise:
        cues not measured yet come last in a sort by a measure. `text` matches every word in
        prompt, tags, notes, model, stem role, CatID or the CatID's UCS category and subcategory (any
        case); `catid` is one UCS CatID, `category` a whole UCS category such as AMBIENCE;
        `kept` keeps only the cues marked keep; `bpm` a (low, high) tempo, `key` one key
        ("A minor"), `tone` dark, neutral or bright (the measures, engine.analysis). Ids alone
        keep a search of a large library quick; `get_many` fills in."""
        where, args = [], []
        for word in text.split():
            like = f"%{_escape_like(word)}%"
            named = ucs.catids_named(word)
            where.append("(prompt LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\' OR model LIKE ? ESCAPE '\\' "
                         "OR catid LIKE ? ESCAPE '\\' OR role LIKE ? ESCAPE '\\' OR "
                         "EXISTS (SELECT 1 FROM tags WHERE cue_id = cues.id AND tag LIKE ? ESCAPE '\\')"
                         + (f" OR catid IN ({', '.join('?' * len(named))})" if named else "") + ")")
            args += [like] * 6 + named
        if kept:
            where.append("keep = 1")
        if tag:
            where.append("EXISTS (SELECT 1 FROM tags WHERE cue_id = cues.id AND tag = ?)")
            args.append(normalise_tag(tag))
        if min_rating is not None:
            where.append("rating >= ?")
            args.append(_rating(min_rating))
        if model:
            where.append("model = ?")
            args.append(registry.get(model).name)
        if catid:
            where.append("catid = ?")
            args.append(ucs.validate_catid(catid))
        if bpm is not None:
            where.append("bpm BETWEEN ? AND ?")
            args += [float(bpm[0]), float(bpm[1])]
        if key:
            where.append("musical_key = ?")
            args.append(_parsed(analysis.parse_key, key))
        if tone:
            bounds = {"dark": ("centroid_hz < ?", [analysis.DARK_HZ]),
                      "bright": ("centroid_hz > ?", [analysis.BRIGHT_HZ]),
                      "neutral": ("centroid_hz BETWEEN ? AND ?", [analysis.DARK_HZ, analysis.BRIGHT_HZ])}
            if tone not in bounds:
                raise BadInput(f"the tone is one of {', '.join(analysis.TONES)}; got {tone!r}")
            where.append(bounds[tone][0])
            args += bounds[tone][1]
        if category:
            ids = ucs.catids_in_category(category)
            where.append(f"catid IN ({', '.join('?' * len(ids))})")
            args += ids
        if sort not in SORTS:
            raise BadInput(f"sort by one of {', '.join(SORTS)}; got {sort!r}")
        sql = "SELECT id FROM cues" + (" WHERE " + " AND ".join(where) if where else "")
        if sort != "newest":
            sql += f" ORDER BY {SORTS[sort]} {'DESC' if descending else 'ASC'} NULLS LAST, id DESC"
        else:
            sql += f" ORDER BY id {'ASC' if descending else 'DESC'}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [row[0] for row in self._db.execute(sql, args)]

    def stems_of(self, cue_id: int) -> list[Cue]:
        """The stems cue `cue_id` was last split into, in the separator's order ([] when it
        was not, or when one of them was deleted since)."""
        row = self._db.execute("SELECT job_id FROM cues WHERE parent_id = ? AND role IS NOT NULL "
                               "ORDER BY id DESC LIMIT 1", (cue_id,)).fetchone()
        if row is None:
            return []
        ids = [r[0] for r in self._db.execute("SELECT id FROM cues WHERE job_id = ? AND parent_id = ? "
                                              "ORDER BY batch_index", (row[0], cue_id))]
        stems = self.get_many(ids)
        return stems if stems and len(stems) == stems[0].batch_size else []

    def get_many(self, ids: list[int]) -> list[Cue]:
        """The cues with these ids, in the same order (ids that are gone are left out)."""
        found: dict[int, Cue] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._db.execute(f"{_SELECT} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update((row["id"], self._cue(row)) for row in rows)
        return [found[i] for i in ids if i in found]

    def search(self, text: str = "", **filters) -> list[Cue]:
        """The matching cues themselves (see `find` for the query), newest first."""
        return self.get_many(self.find(text, **filters))

    def tags(self) -> list[tuple[str, int]]:
        """Every tag in use with how many cues carry it, most used first."""
        rows = self._db.execute("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY 2 DESC, 1")
        return [(r[0], r[1]) for r in rows]

    def _cue(self, row: sqlite3.Row) -> Cue:
        values = {name: row[name] for name in _COLUMNS}
        values["path"] = self.root / row["path"]
        values["keep"] = bool(row["keep"])
        values["loop"] = bool(row["loop"])
        measured = row["centroid_hz"] is not None
        return Cue(id=row["id"], tags=tuple(row["tag_list"].split("\x1f")) if row["tag_list"] else (),
                   measures=Measures(**{f: row[c] for f, c in _MEASURED.items()}) if measured else None,
                   **values)

    # -- measuring (engine.analysis) --------------------------------------------------------

    def unmeasured(self, limit: int = 50, skip: tuple[int, ...] = ()) -> list[Cue]:
        """Cues not measured yet (made before measuring, or kept without it), newest first."""
        rows = self._db.execute(f"SELECT id FROM cues WHERE centroid_hz IS NULL AND id NOT IN "
                                f"({', '.join('?' * len(skip))}) ORDER BY id DESC LIMIT ?", (*skip, limit))
        return self.get_many([row[0] for row in rows])

    def count_unmeasured(self) -> int:
        return self._db.execute("SELECT count(*) FROM cues WHERE centroid_hz IS NULL").fetchone()[0]

    def set_measures(self, cue_id: int, measures: Measures) -> Cue:
        return self._update(cue_id, **_measure_columns(measures))

    def measure_missing(self, measure_files=None, on_progress=lambda done, total: None) -> tuple[int, int]:
        """Measure every cue not measured yet: (measured, unreadable). `measure_files(paths)`
        gives each file's Measures or None (default: analysis.measure_files, here)."""
        measure_files = measure_files or analysis.measure_files
        total = self.count_unmeasured()
        done, failed = 0, []
        while batch := self.unmeasured(skip=tuple(failed)):
            for cue, measures in zip(batch, measure_files([cue.path for cue in batch])):
                if measures is None:
                    failed.append(cue.id)
                else:
                    self.set_measures(cue.id, measures)
                    done += 1
                on_progress(done + len(failed), total)
        return done, len(failed)

    # -- editing ------------------------------------------------------------------------

    def rate(self, cue_id: int, rating: int) -> Cue:
        return self._update(cue_id, rating=_rating(rating))

    def set_notes(self, cue_id: int, notes: str) -> Cue:
        if len(notes) > MAX_NOTES_CHARS:
            raise BadInput(f"notes are {len(notes)} characters long; keep them to {MAX_NOTES_CHARS}")
        return self._update(cue_id, notes=notes)

    def set_catid(self, cue_id: int, catid: str | None) -> Cue:
        return self._update(cue_id, catid=ucs.validate_catid(catid) if catid else None)

    def set_keep(self, cue_id: int, keep: bool) -> Cue:
        return self._update(cue_id, keep=int(bool(keep)))

    def add_tags(self, cue_id: int, tags: list[str]) -> Cue:
        clean = [normalise_tag(t) for t in tags]
        with self.transaction() as db:
            self.get(cue_id)
            db.executemany("INSERT OR IGNORE INTO tags (cue_id, tag) VALUES (?, ?)",
                           [(cue_id, t) for t in clean])
        return self.get(cue_id)

    def remove_tags(self, cue_id: int, tags: list[str]) -> Cue:
        clean = [normalise_tag(t) for t in tags]
        with self.transaction() as db:
            self.get(cue_id)
            db.executemany("DELETE FROM tags WHERE cue_id = ? AND tag = ?", [(cue_id, t) for t in clean])
        return self.get(cue_id)

    def delete(self, cue_id: int) -> None:
        """Remove the row, then the file (journalled: a kill in between is finished by the
        next `recover`)."""
        cue = self.get(cue_id)
        with self._journal([cue.path]):  # (a .mid left by a kill here is an orphan `check` lists)
            with self.transaction() as db:
                db.execute("DELETE FROM cues WHERE id = ?", (cue_id,))
            faults.point("library.delete-row-gone")
            cue.path.unlink(missing_ok=True)
            cue.midi_path.unlink(missing_ok=True)

    def _update(self, cue_id: int, **values) -> Cue:
        sets = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as db:
            if db.execute(f"UPDATE cues SET {sets} WHERE id = ?", [*values.values(), cue_id]).rowcount == 0:
                raise NotFound(f"no cue with id {cue_id}; `cuedeck library list` shows the ids")
        return self.get(cue_id)


    # -- timelines ----------------------------------------------------------------------

    def timelines_using(self, cue_ids: list[int]) -> dict[int, list[str]]:
        """For each of these cues that a timeline uses, the names of those timelines."""
        wanted, used = set(cue_ids), {}
        for name in self.timeline_names():
            for cue_id in wanted & set(self.timeline(name).cue_ids()):
                used.setdefault(cue_id, []).append(name)
        return used

    def timeline_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM timelines ORDER BY name COLLATE NOCASE")]

    def timeline(self, name: str) -> Timeline:
        row = self._db.execute("SELECT data FROM timelines WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no timeline named {name!r}; `cuedeck timeline list` shows them")
        return Timeline.from_dict(json.loads(row[0]))

    def create_timeline(self, name: str) -> Timeline:
        timeline = Timeline(check_name(name, "timeline"))
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM timelines WHERE name = ?", (timeline.name,)).fetchone():
                raise BadInput(f"a timeline named {timeline.name!r} already exists; pick another name")
            self._write_timeline(db, timeline)
        return timeline

    def save_timeline(self, timeline: Timeline, old_name: str | None = None) -> Timeline:
        """Store `timeline` (replacing `old_name` when it was renamed)."""
        with self.transaction() as db:
            if old_name and old_name.lower() != timeline.name.lower():
                if db.execute("SELECT 1 FROM timelines WHERE name = ?", (timeline.name,)).fetchone():
                    raise BadInput(f"a timeline named {timeline.name!r} already exists; pick another name")
                db.execute("DELETE FROM timelines WHERE name = ?", (old_name,))
            self._write_timeline(db, timeline)
        return timeline

    def delete_timeline(self, name: str) -> None:
        with self.transaction() as db:
            if db.execute("DELETE FROM timelines WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no timeline named {name!r}; `cuedeck timeline list` shows them")

    def _write_timeline(self, db, timeline: Timeline) -> None:
        db.execute("INSERT OR REPLACE INTO timelines (name, data, modified_at) VALUES (?, ?, ?)",
                   (timeline.name, json.dumps(timeline.to_dict()),
                    datetime.now(timezone.utc).isoformat(timespec="milliseconds")))


def _parsed(parse, text: str):
    try:
        return parse(text)
    except ValueError as e:
        raise BadInput(str(e)) from None


def _measure_columns(measures: Measures | None) -> dict:
    return {column: getattr(measures, name) if measures else None for name, column in _MEASURED.items()}


def normalise_tag(tag: str) -> str:
    clean = " ".join(str(tag).split()).lower()
    if not clean:
        raise BadInput("a tag cannot be empty")
    if "," in clean:  # exports list tags comma-separated (iXML KEYWORDS)
        raise BadInput(f"tag {clean[:20]!r} contains a comma; give each tag separately")
    if len(clean) > MAX_TAG_CHARS:
        raise BadInput(f"tag {clean[:20]!r}… is longer than {MAX_TAG_CHARS} characters")
    return clean


def _rating(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
        raise BadInput(f"a rating is a whole number from 0 to 5; got {value!r}")
    return value


@dataclass
class CheckReport:
    missing: list[int] = field(default_factory=list)                # cue ids whose file is gone
    damaged: list[tuple[int, str]] = field(default_factory=list)    # (cue id, what is wrong)
    orphans: list[Path] = field(default_factory=list)               # files no row claims
    removed: list[Path] = field(default_factory=list)               # leftovers of killed writers

    @property
    def ok(self) -> bool:
        return not (self.missing or self.damaged or self.orphans)


def _live(journal: Path) -> bool:
    pid = staging.writer_pid(journal)
    return pid is not None and staging.process_alive(pid)


def _journal_names(journal: Path) -> list[str]:
    try:
        return json.loads(journal.read_text())
    except (OSError, ValueError):  # written atomically: unreadable means not ours
        return []


class _Connection(sqlite3.Connection):
    """Turns SQLite's errors into one line that tells disk-full, busy, read-only and
    damaged apart (by SQLite's error code, not its text)."""

    root: Path

    def execute(self, *args):
        try:
            return super().execute(*args)
        except sqlite3.Error as e:
            raise _sql_error(e, self.root) from None

    def executemany(self, *args):
        try:
            return super().executemany(*args)
        except sqlite3.Error as e:
            raise _sql_error(e, self.root) from None


_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR = 5, 6, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26


def _sql_error(e: sqlite3.Error, root: Path) -> CueDeckError:
    code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
    db = Path(root) / DB_NAME
    if code == _SQLITE_FULL or (code == _SQLITE_IOERR and _disk_nearly_full(root)):
        return DiskFull(f"the disk holding the library ({root}) is full; free some space and try "
                        "again (the library is intact and nothing was changed)")
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return CueDeckError(f"the library at {root} is busy: another CueDeck has held it for over "
                            "10 s; try again (nothing was changed)")
    if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN):
        return LibraryError(f"the library at {root} cannot be written ({e}); make the folder "
                            "writable, or set CUEDECK_HOME to a writable folder")
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) and _integrity_failed(db):
        return LibraryDamaged(f"library database {db} is damaged ({e}); restore it from a backup, "
                            "or move it aside to start a new library")
    return CueDeckError(f"the library at {root} could not be used ({e}); nothing was changed")


def _disk_nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1_000_000
    except OSError:
        return False


def _integrity_failed(db: Path) -> bool:
    """True only when SQLite's own check finds the database damaged."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return conn.execute("PRAGMA quick_check").fetchone()[0] != "ok"
    except sqlite3.DatabaseError as e:
        return (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    except sqlite3.Error:
        return False


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "cue"
