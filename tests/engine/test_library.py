import hashlib
import sqlite3

import numpy as np
import pytest
import soundfile as sf

from conftest import sql
from engine import library as library_module
from engine.audio_io import float_wav_bytes
from engine.cue import provenance_text
from engine.errors import BadInput, LibraryDamaged, LibraryError, NotFound
from engine.library import Library
from engine.request import GenerationRequest


@pytest.fixture
def lib(cuedeck_home):
    with Library() as lib:
        yield lib


def add(lib, prompt="warm analog pad", n=2, seed=7, model="tiny-music", rate=32000):
    request = GenerationRequest(prompt, model=model, candidates=n, duration=1.0, seed=seed).validated()
    rng = np.random.default_rng(seed)
    audio = rng.uniform(-0.5, 0.5, (n, 1, rate)).astype(np.float32)
    return lib.add_batch(request, audio, rate, request.candidate_seeds(), f"job{seed:08d}", "1.3.0"), audio


def test_new_library_has_schema_version_and_wal(lib, cuedeck_home):
    db = sqlite3.connect(cuedeck_home / "library" / "library.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(library_module.MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_carry_full_provenance_and_files_hold_the_audio(lib):
    cues, audio = add(lib, n=2, seed=7)
    for index, cue in enumerate(cues):
        data, rate = sf.read(cue.path, dtype="float32", always_2d=True)
        assert rate == 32000 and np.array_equal(data[:, 0], audio[index, 0])
        assert (cue.seed, cue.request_seed, cue.batch_size, cue.batch_index) == (7 + index, 7, 2, index)
        assert cue.model == "tiny-music" and "untrained" in cue.licence
        assert (cue.top_k, cue.top_p, cue.temperature, cue.cfg_coef) == (250, 0.0, 1.0, 3.0)
        assert cue.audiocraft_version == "1.3.0" and cue.cuedeck_version
        assert len(cue.sha256) == 64 and cue.created_at.endswith("+00:00")
        assert cue.duration == 1.0 and cue.channels == 1 and cue.parent_id is None
        assert -30 < cue.loudness_lufs < 0 and cue.peak == pytest.approx(np.abs(audio[index]).max())
    assert not list(lib.audio_dir.glob(".*"))  # no temporary file left


def test_rate_tag_note_catid_keep_persist(lib, cuedeck_home):
    cue = add(lib)[0][0]
    lib.rate(cue.id, 4)
    lib.add_tags(cue.id, ["Dark", "  slow   swell ", "dark"])
    lib.remove_tags(cue.id, ["SLOW SWELL"])
    lib.set_notes(cue.id, "use under scene 12")
    lib.set_catid(cue.id, "ambforst")
    lib.set_keep(cue.id, True)
    with Library() as again:
        cue = again.get(cue.id)
    assert (cue.rating, cue.tags, cue.notes, cue.catid, cue.keep) == (
        4, ("dark",), "use under scene 12", "AMBForst", True)


def test_search_by_text_tag_rating_model_and_catid(lib):
    pads, _ = add(lib, "warm analog pad", seed=1)
    rain, _ = add(lib, "rain on a tin roof", seed=2, model="tiny-sfx", rate=16000)
    lib.add_tags(rain[0].id, ["wet"])
    lib.set_notes(pads[1].id, "Director liked this one")
    lib.rate(pads[1].id, 5)
    lib.set_catid(rain[1].id, "RAINMetl")
    ids = lambda cues: {c.id for c in cues}
    assert ids(lib.search("PAD")) == ids(pads)
    assert ids(lib.search("warm pad")) == ids(pads)  # every word, any field
    assert ids(lib.search("director")) == {pads[1].id}
    assert ids(lib.search("wet")) == {rain[0].id}
    assert ids(lib.search(tag="WET")) == {rain[0].id}
    assert ids(lib.search(min_rating=5)) == {pads[1].id}
    assert ids(lib.search(model="tiny-sfx")) == ids(rain)
    assert ids(lib.search(catid="rainmetl")) == {rain[1].id}
    assert ids(lib.search(category="RAIN")) == {rain[1].id}
    assert ids(lib.search("100%")) == set()  # LIKE wildcards are literal
    # the search box also finds a CatID, its UCS category or subcategory, and the model
    assert ids(lib.search("rainmetl")) == ids(lib.search("metal")) == ids(lib.search("rain metal")) == {rain[1].id}
    assert ids(lib.search("tiny-sfx")) == ids(rain)
    lib.set_keep(pads[0].id, True)
    assert ids(lib.search(kept=True)) == {pads[0].id} and ids(lib.search("rain", kept=True)) == set()
    assert [c.id for c in lib.search(limit=2)] == [rain[1].id, rain[0].id]  # newest first


def test_delete_removes_file_and_row_together(lib):
    cue = add(lib, n=1)[0][0]
    lib.delete(cue.id)
    assert not cue.path.exists()
    with pytest.raises(NotFound):
        lib.get(cue.id)


@pytest.mark.parametrize("edit, words", [
    (lambda lib, i: lib.rate(i, 6), "0 to 5"),
    (lambda lib, i: lib.rate(i, -1), "0 to 5"),
    (lambda lib, i: lib.add_tags(i, ["   "]), "empty"),
    (lambda lib, i: lib.add_tags(i, ["x" * 65]), "longer than 64"),
    (lambda lib, i: lib.set_catid(i, "AMBFrst"), "did you mean AMBForst"),
    (lambda lib, i: lib.set_notes(i, "x" * 10_001), "10000"),
    (lambda lib, i: lib.rate(i + 99, 3), "no cue with id"),
    (lambda lib, i: lib.add_tags(i + 99, ["x"]), "no cue with id"),
    (lambda lib, i: lib.delete(i + 99), "no cue with id"),
])
def test_bad_edits_are_refused_and_change_nothing(lib, edit, words):
    cue = add(lib, n=1)[0][0]
    with pytest.raises(BadInput, match=words):
        edit(lib, cue.id)
    assert lib.get(cue.id) == cue


def test_failed_insert_leaves_no_files(lib, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(Library, "get", broken)  # fails after the transaction: rows exist
    monkeypatch.setattr(Library, "transaction", broken)  # fails before: no rows
    with pytest.raises(sqlite3.OperationalError):
        add(lib)
    assert list(lib.audio_dir.iterdir()) == []


def test_corrupted_database_is_reported_and_left_alone(cuedeck_home):
    folder = cuedeck_home / "library"
    folder.mkdir(parents=True)
    (folder / "library.sqlite3").write_bytes(b"this is not a database" * 100)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(LibraryDamaged, match="is damaged .* move it aside"):
        Library()
    assert sorted(p.name for p in folder.iterdir()) == before
    assert (folder / "library.sqlite3").read_bytes() == b"this is not a database" * 100


def test_library_from_a_newer_cuedeck_is_refused(lib, cuedeck_home):
    sql(lib, "PRAGMA user_version = 99")
    with pytest.raises(LibraryError, match="newer CueDeck"):
        Library()


def test_unusable_library_folder_says_what_to_do(cuedeck_home, monkeypatch):
    cuedeck_home.mkdir(parents=True)
    (cuedeck_home / "library").write_text("a file where the folder should be")
    with pytest.raises(LibraryError, match="set CUEDECK_HOME to a writable folder"):
        Library()


def test_stale_partial_files_of_dead_writers_are_removed(lib):
    stale = lib.audio_dir / ".x.wav.999999999.part"
    live = lib.audio_dir / f".y.wav.{__import__('os').getpid()}.part"
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    assert lib.recover() == [stale]
    assert not stale.exists() and live.exists()


def test_two_processes_opening_a_new_library_at_once_both_succeed(cuedeck_home):
    import subprocess
    import sys
    script = "from engine.library import Library; Library().close(); print('ok')"
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [run.communicate(timeout=60) for run in runs]
    assert all(out.strip() == "ok" for out, _ in results), results
    with Library() as lib:
        assert sql(lib, "PRAGMA user_version") == len(library_module.MIGRATIONS)


def test_a_library_of_schema_3_is_upgraded_and_its_cues_keep_their_facts(cuedeck_home):
    root = cuedeck_home / "library"
    (root / "audio").mkdir(parents=True)
    audio = np.full((1, 16000), 0.1, np.float32)
    (root / "audio" / "old.wav").write_bytes(float_wav_bytes(audio, 16000))
    with sqlite3.connect(root / library_module.DB_NAME) as db:
        for number, migration in enumerate(library_module.MIGRATIONS[:3], start=1):
            db.executescript(migration + f"; PRAGMA user_version = {number};")
        db.execute("INSERT INTO cues (path, prompt, model, licence, audiocraft_version, cuedeck_version, "
                   "duration, sample_rate, channels, top_k, top_p, temperature, cfg_coef, seed, request_seed, "
                   "batch_size, batch_index, job_id, sha256, peak, created_at) VALUES ('audio/old.wav', "
                   "'old pad', 'tiny-music', 'CC-BY-NC-4.0', '1.3.0', '0.1', 1, 16000, 1, 250, 0, 1, 3, 7, 7, "
                   "1, 0, 'job', ?, 0.1, '2026-01-01T00:00:00.000+00:00')",
                   (hashlib.sha256(float_wav_bytes(audio, 16000)).hexdigest(),))
    with Library() as lib:
        (old,) = lib.search()
        assert (old.prompt, old.seed, old.device, old.precision) == ("old pad", 7, None, None)
        assert lib.check().ok
        request = GenerationRequest("new pad", candidates=1, duration=1, seed=2, precision="int8").validated()
        new = lib.add_batch(request, audio[None], 16000, [2], "job2", "1.3.0", device="cpu")[0]
        assert (new.device, new.precision) == ("cpu", "int8")
        assert "Generated on CPU in int8" in provenance_text(new) and "Generated on" not in provenance_text(old)
