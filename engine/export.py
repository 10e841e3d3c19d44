"""Export: a timeline becomes one folder of stems, a mix, a .otio timeline and a provenance
sheet; a single cue becomes one tagged file. Everything is written under a temporary name
and renamed into place at the end, so a failure leaves no partial export behind."""

import csv
import errno
import io
import itertools
import json
import math
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from . import __version__, aaf, bwf, credentials, faults, loops, loudness, registry, resources, staging, timecode, \
    transcription, ucs
from .audio_io import write_atomic
from .errors import BadInput, Cancelled, CueDeckError
from .cue import Cue, provenance_line
from .library import Library
from .mixdown import Mixdown, check, layout, render
from .timeline import Clip, Timeline

RATES = (22050, 32000, 44100, 48000, 88200, 96000, 192000)  # offered in the export dialog
RATE_RANGE = (8000, 192000)
PROVENANCE_FIELDS = ("id", "prompt", "negative", "model", "licence", "seed", "request_seed", "batch_size",
                     "batch_index", "top_k", "top_p", "temperature", "cfg_coef", "duration",
                     "sample_rate", "channels", "audiocraft_version", "cuedeck_version",
                     "created_at", "sha256", "conditioning_sha256", "conditioning_source", "parent_id", "role",
                     "separator", "catid",
                     "rating", "tags", "notes", "target_bpm", "target_key", "bpm", "key", "loudness_lufs",
                     "true_peak_db", "centroid_hz")


@dataclass(frozen=True)
class Delivery:
    """What an export is delivered to: a commercial delivery refuses non-commercial weights;
    a loudness preset (loudness.PRESETS, or custom with its own target and ceiling) brings the
    mix to its integrated loudness and holds it under its true-peak ceiling, the stems by the
    same gain unless `stems_follow` is off; `sign` puts C2PA content credentials in every
    audio file, with the prompts unless `prompts` is off; an AAF of the timeline links or
    embeds the stems (engine.aaf)."""
    commercial: bool = False
    loudness: str = "none"
    target_lufs: float | None = None  # custom only
    ceiling_dbtp: float | None = None  # custom only
    stems_follow: bool = True
    sign: bool = True
    prompts: bool = True
    aaf: str = "linked"

    def target(self) -> tuple[float | None, float | None]:
        """(integrated LUFS, true-peak ceiling dBTP) to deliver at, None for as generated."""
        if self.loudness == loudness.CUSTOM:
            if self.target_lufs is None or not -60 <= self.target_lufs <= 0:
                raise BadInput("a custom loudness needs a target between -60 and 0 LUFS (--lufs -23)")
            if self.ceiling_dbtp is None or not -20 <= self.ceiling_dbtp <= 0:
                raise BadInput("a custom loudness needs a true-peak ceiling between -20 and 0 dBTP (--true-peak -1)")
            return self.target_lufs, self.ceiling_dbtp
        if self.loudness not in loudness.PRESETS:
            raise BadInput(f"the loudness preset is one of {', '.join([*loudness.PRESETS, loudness.CUSTOM])}; "
                           f"got {self.loudness!r}")
        preset = loudness.PRESETS[self.loudness]
        return preset.lufs, preset.true_peak_db


@dataclass
class ExportResult:
    folder: Path
    files: list[Path]
    levels: dict[str, loudness.Levels]  # of each audio file, by name
    mix: str  # the mix's file name
    seconds: float  # length of the exported timeline
    licences: dict[str, list[int]]  # the weights licences of the cues in it: licence → cue ids
    gain_db: float = 0.0  # what the loudness preset did to the mix
    limited: list[str] = field(default_factory=list)  # files the true-peak limiter held

    def summary(self) -> str:
        mix = self.levels[self.mix]
        warning = "; the mix clips: lower a gain or export 32f" if mix.sample_peak > 1.0 else ""
        gain = f"; mix {self.gain_db:+.1f} dB to the preset" if self.gain_db else ""
        limited = f", {len(self.limited)} file(s) true-peak limited" if self.limited else ""
        restricted = {licence: ids for licence, ids in self.licences.items() if not registry.commercial(licence)}
        licensing = f"; weights {licence_text(restricted)}" if restricted else ""  # (all of them: --json)
        return (f"exported {len(self.files)} files to {self.folder}; mix {mix.text()}{gain}{limited}{warning}"
                f"{licensing}")

    def report(self) -> dict:
        return {"folder": str(self.folder), "files": [str(f) for f in self.files], "seconds": self.seconds,
                "licences": self.licences, "gain_db": round(self.gain_db, 2), "limited": self.limited,
                "levels": {name: levels.to_dict() for name, levels in self.levels.items()}}


def licences(cues: list[Cue]) -> dict[str, list[int]]:
    """The weights licences of `cues`: licence → the ids of the cues under it."""
    found: dict[str, list[int]] = {}
    for cue in sorted(cues, key=lambda c: c.id):
        found.setdefault(cue.licence, []).append(cue.id)
    return found


def licence_text(by_licence: dict[str, list[int]]) -> str:
    """"CC-BY-NC-4.0 (non-commercial: cues 1, 2), MIT (cue 3)"."""
    return ", ".join(f"{licence} ({'' if registry.commercial(licence) else 'non-commercial: '}"
                     f"cue{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))})"
                     for licence, ids in by_licence.items())


def check_commercial(cues: list[Cue]) -> None:
    """A commercial delivery refuses cues whose weights are licensed for non-commercial use."""
    refused = {licence: ids for licence, ids in licences(cues).items() if not registry.commercial(licence)}
    if refused:
        raise BadInput(f"a commercial delivery cannot use {licence_text(refused)}: replace them with cues "
                       "from commercially licensed weights, or export without commercial delivery")


def check_options(rate: int, bits: str, fmt: str) -> None:
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise BadInput(f"the export rate is {RATE_RANGE[0]}–{RATE_RANGE[1]} Hz (48000 is usual); got {rate}")
    if bits not in bwf.BITS:
        raise BadInput(f"bits is 16, 24 or 32f; got {bits!r}")
    if fmt not in bwf.FORMATS:
        raise BadInput(f"the format is wav or flac; got {fmt!r}")
    if fmt == "flac" and bits == "32f":
        raise BadInput("FLAC holds 16 or 24 bits; use --bits 24 or --format wav")


def export_timeline(library: Library, name: str, out_dir: Path, rate: int = 48000, bits: str = "24",
                    fmt: str = "wav", on_progress=None, should_cancel=None, midi: bool = False,
                    delivery: Delivery = Delivery()) -> ExportResult:
    """Export timeline `name` into a new folder inside `out_dir`."""
    timeline = library.timeline(name)
    cues = {c.id: c for c in library.get_many(timeline.cue_ids())}
    return write_export(timeline, cues, out_dir, rate, bits, fmt, on_progress, should_cancel, midi, delivery)


def write_export(timeline: Timeline, cues: dict[int, Cue], out_dir: Path, rate: int = 48000,
                 bits: str = "24", fmt: str = "wav", on_progress=None, should_cancel=None,
                 midi: bool = False, delivery: Delivery = Delivery()) -> ExportResult:
    """The export itself, from a timeline and its cues already read from the library. With
    `midi`, each stem's notes beside it as a .mid at the timeline's tempo (Basic Pitch, in a
    child process); `delivery`: see Delivery."""
    check_options(rate, bits, fmt)
    target_lufs, ceiling_dbtp = delivery.target()
    with_aaf = aaf.wanted(delivery.aaf, bits, fmt)
    out_dir = _writable(out_dir)
    staging.sweep(out_dir)  # export folders that killed exports left half-written
    tracks, frames, channels = layout(timeline, cues, rate)  # (checks the timeline against its cues)
    used = [cues[i] for i in timeline.cue_ids()]
    if delivery.commercial:
        check_commercial(used)
    signer = credentials.identity() if delivery.sign else None
    embedded = len(tracks) if with_aaf and delivery.aaf == "embedded" else 0  # stems again, in the AAF
    _require_room(timeline, cues, out_dir, rate, bits, files=len(tracks) + 1 + embedded)
    progress = on_progress or (lambda fraction, stage: None)
    progress(0.0, "rendering")
    name = _filename(timeline.name)
    tmp = staging.part_path(out_dir / name)
    when = datetime.now(timezone.utc).astimezone()
    try:
        tmp.mkdir()
        levels: dict[str, loudness.Levels] = {}
        limited: list[str] = []

        def deliver(filename: str, audio, track: int | None) -> None:
            """The file measured, at the delivery's loudness, its report in its bext, signed."""
            measured = mix_levels.result() if track is None else loudness.levels(audio, rate)
            if should_cancel and should_cancel():
                raise Cancelled("export cancelled; nothing was written")
            if track is None or delivery.stems_follow:
                measured, held = _to_spec(audio, rate, measured, _gain_db(mix_levels.result(), target_lufs),
                                          ceiling_dbtp)
                if held:
                    limited.append(filename)
            levels[filename] = measured
            meta = _timeline_metadata(timeline, track, cues, rate, bits, audio.shape[1], when, measured)
            part = "mix" if track is None else f"stem {timeline.tracks[track].name}"
            bwf.write(tmp / filename, audio, rate, bits, fmt, meta,
                      _signing(signer, filename, _cues_in(timeline, track, cues), part, delivery.prompts))
            faults.point("export.file-written")

        # Two threads: numpy, scipy, soxr, hashlib and file writes release the GIL. A linked
        # AAF (pyaaf2 holds the GIL) is written beside the render, whose steps are few and long.
        # The mix is measured first, since its loudness sets the preset's gain; each stem is
        # measured as it is delivered, and the gain moves each report with it (a file is
        # measured again only if the limiter touched it).
        stems = [_filename(f"{timeline.name} - {n + 1:02d} {delivery_role(timeline, t, cues)} "
                           f"{timeline.tracks[t].name}.{fmt}") for n, t in enumerate(tracks)]
        mix_name = _filename(f"{timeline.name} - Mix.{fmt}")
        session = partial(aaf.write, tmp / f"{name}.aaf", timeline.name, [
            (timeline.tracks[t].name, tmp / f, [(first, min(end, frames)) for first, end, _ in
                                                _regions(timeline.tracks[t].clips, rate)])
            for f, t in zip(stems, tracks)], rate, bits, channels, frames, timeline.start_timecode,
            timeline.frame_rate, delivery.aaf)
        with ThreadPoolExecutor(2) as pool:
            try:
                jobs = [pool.submit(session)] if with_aaf and delivery.aaf == "linked" else []
                mixdown = render(timeline, cues, rate, pool.map)
                progress(0.2, "measuring")
                mix_levels = pool.submit(loudness.levels, mixdown.mix, rate)  # first in: a stem's wait is short
                jobs += [pool.submit(deliver, *file)
                         for file in [*zip(stems, mixdown.stems, tracks), (mix_name, mixdown.mix, None)]]
                audio_part = 0.45 if midi else 0.65
                for done, job in enumerate(as_completed(jobs), start=1):
                    job.result()
                    progress(0.25 + audio_part * done / len(jobs), f"written {done} of {len(jobs)} files")
                if with_aaf and delivery.aaf == "embedded":
                    progress(0.25 + audio_part, "embedding the stems in the AAF")
                    session()
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        gain_db = _gain_db(mix_levels.result(), target_lufs)
        files = stems
        if midi:
            transcription.transcribe_files_apart(
                [{"audio": str(tmp / f), "midi": str(tmp / Path(f).with_suffix(".mid")), "bpm": timeline.tempo,
                  "name": f"{timeline.name} - {timeline.tracks[t].name}"} for f, t in zip(files, mixdown.tracks)],
                lambda f: progress(0.7 + 0.2 * f, "transcribing the stems to MIDI"), should_cancel or (lambda: False))
        progress(0.9, "writing the timeline and provenance")
        write_atomic(tmp / f"{name}.otio", _otio(timeline, mixdown, files, cues).encode())
        _write_provenance(tmp, timeline, cues, rate, bits, fmt, when,
                          {"loudness": delivery.loudness, "target_lufs": target_lufs, "ceiling_dbtp": ceiling_dbtp,
                           "gain_db": round(gain_db, 2), "stems_follow": delivery.stems_follow,
                           "limited": sorted(limited), "signed": delivery.sign,
                           "levels": {f: levels[f].to_dict() for f in [mix_name, *stems]}})
        _write_cue_sheet(tmp / f"{name} - cue sheet.csv", timeline, cues)
        faults.point("export.before-rename")
        final = _place(tmp, out_dir, name)  # the folder appears whole or not at all
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise resources.write_failed(e, out_dir, f"exporting {timeline.name!r}") from None
    except MemoryError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CueDeckError(f"exporting {timeline.name!r} ran out of memory; export at a lower rate "
                           "or mute some tracks (nothing was written)") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    progress(1.0, "done")
    return ExportResult(final, sorted(final.iterdir()), levels, mix_name, len(mixdown.mix) / rate, licences(used),
                        gain_db, sorted(limited))


def export_cue(cue: Cue, out_dir: Path, rate: int | None = None, bits: str = "24",
               fmt: str = "wav", delivery: Delivery = Delivery()) -> Path:
    """One cue as a tagged file, named by the UCS convention when it has a CatID."""
    rate = rate or cue.sample_rate
    check_options(rate, bits, fmt)
    target_lufs, ceiling_dbtp = delivery.target()
    if delivery.commercial:
        check_commercial([cue])
    out_dir = _writable(out_dir)
    single = Timeline("cue").add_clip(0, _whole(cue))
    check(single, {cue.id: cue})
    _require_room(single, {cue.id: cue}, out_dir, rate, bits, files=1)
    audio = render(single, {cue.id: cue}, rate).mix
    measured = loudness.levels(audio, rate)
    measured = _to_spec(audio, rate, measured, _gain_db(measured, target_lufs), ceiling_dbtp)[0]
    meta = bwf.Metadata(
        description=provenance_line(cue), origination=datetime.now(timezone.utc).astimezone(),
        coding_history=[_origin_line(cue), bwf.coding_line(rate, bits, audio.shape[1], f"CueDeck {__version__}")],
        project="CueDeck library", reference=f"CueDeck cue {cue.id}", levels=measured,
        tracks=bwf.channel_names(cue.role or "cue", audio.shape[1]),
        user=_user_fields([cue], fxname=_fxname(cue), notes=cue.notes, rating=cue.rating),
        chunks=loops.chunks(audio.shape[0], rate, cue.target_bpm, cue.bars, cue.beats_per_bar,
                            cue.measures.key if cue.measures else None) if cue.loop and fmt == "wav" else b"")
    name = ucs_name(cue)
    tmp = staging.part_path(out_dir / f"{name}.{fmt}")
    signer = credentials.identity() if delivery.sign else None
    try:
        bwf.write(tmp, audio, rate, bits, fmt, meta, _signing(signer, f"{name}.{fmt}", [cue], "cue", delivery.prompts))
        return _place(tmp, out_dir, name, f".{fmt}")
    except OSError as e:
        raise resources.write_failed(e, out_dir, f"exporting cue {cue.id}") from None
    finally:
        tmp.unlink(missing_ok=True)


def ucs_name(cue: Cue) -> str:
    """`CatID_FXName_CreatorID_SourceID` when the cue has a CatID, else the library's name."""
    if not cue.catid:
        return Path(cue.path).stem
    return _filename(f"{cue.catid}_{_fxname(cue)}_CueDeck_{cue.model}")


# -- pieces ------------------------------------------------------------------------------

def delivery_role(timeline: Timeline, track: int, cues: dict[int, Cue]) -> str:
    """DX, MX, FX or BG: the track's own, else MX when it holds music, FX for effects."""
    chosen = timeline.tracks[track].role
    if chosen:
        return chosen
    kinds = {registry.get(c.model).kind if c.model in registry.MODELS else "music"
             for c in _cues_in(timeline, track, cues)}
    return "MX" if "music" in kinds else "FX"


def _gain_db(mix: loudness.Levels, target_lufs: float | None) -> float:
    """The gain that brings the mix to the target (0 for none, or for silence)."""
    if target_lufs is None or mix.integrated is None:
        return 0.0
    return target_lufs - mix.integrated


def _to_spec(audio, rate: int, measured: loudness.Levels, gain_db: float,
             ceiling_dbtp: float | None) -> tuple[loudness.Levels, bool]:
    """`audio` (as `measured`) `gain_db` louder and held under the ceiling, in place: its
    levels now, and whether the limiter had to hold it."""
    if gain_db:
        audio *= np.float32(10 ** (gain_db / 20))
        measured = measured.scaled(gain_db)
    if ceiling_dbtp is None or measured.true_peak <= 10 ** (ceiling_dbtp / 20):
        return measured, False
    loudness.limit(audio, rate, 10 ** (ceiling_dbtp / 20))
    return loudness.levels(audio, rate), True


def _signing(signer: credentials.Identity | None, filename: str, used: list[Cue], part: str,
             prompts: bool) -> credentials.Signing | None:
    """A file's content credentials, signed by `signer` (None: unsigned)."""
    return credentials.Signing(credentials.manifest(filename, used, prompts, part), signer) if signer else None


def _cues_in(timeline: Timeline, track: int | None, cues: dict[int, Cue]) -> list[Cue]:
    """The cues heard in a track, or in the mix (track None)."""
    indices = timeline.audible() if track is None else [track]
    return [cues[i] for i in sorted({c.cue_id for t in indices for c in timeline.tracks[t].clips})]


def _whole(cue: Cue) -> Clip:
    return Clip(cue.id, 0.0, 0.0, cue.duration, cue.duration, repeats=cue.loop)


def _timeline_metadata(timeline: Timeline, track: int | None, cues: dict[int, Cue], rate: int, bits: str,
                       channels: int, when: datetime, levels: loudness.Levels) -> bwf.Metadata:
    used = _cues_in(timeline, track, cues)
    part = "mix" if track is None else f"stem {timeline.tracks[track].name!r}"
    models = sorted({c.model for c in used})
    licences = sorted({c.licence for c in used})
    description = (f"{timeline.name} {part}: {len(used)} cue(s) ({', '.join(f'#{c.id}' for c in used)}) "
                   f"from {', '.join(models)}, weights {', '.join(licences)}, made with CueDeck")
    history = [_origin_line(c) for c in used]
    history.append(bwf.coding_line(rate, bits, channels, f"CueDeck {__version__} mixdown"))
    catids = {c.catid for c in used}
    roles = {c.role for c in used}
    label = roles.pop() if track is not None and len(roles) == 1 and None not in roles else \
        "Mix" if track is None else timeline.tracks[track].name  # a track of one stem's role: the role
    return bwf.Metadata(
        description=description, origination=when, coding_history=history, project=timeline.name,
        reference=f"CueDeck {timeline.name}"[:32], levels=levels, tracks=bwf.channel_names(label, channels),
        time_reference=timecode.samples_since_midnight(timeline.start_timecode, timeline.frame_rate, rate),
        user=_user_fields(used, fxname=f"{timeline.name} {'Mix' if track is None else timeline.tracks[track].name}",
                          notes="; ".join(provenance_line(c) for c in used),
                          catid=catids.pop() if len(catids) == 1 else None))


def _user_fields(cues: list[Cue], fxname: str, notes: str, rating: int | None = None,
                 catid: str | None = None) -> dict[str, str]:
    catid = catid if len(cues) != 1 else cues[0].catid
    category = ucs.lookup(catid) if catid else None
    tags = sorted({t for c in cues for t in c.tags})
    return {
        "CATID": catid or "", "CATEGORY": category.category if category else "",
        "SUBCATEGORY": category.subcategory if category else "", "FXNAME": fxname,
        "DESCRIPTION": " / ".join(dict.fromkeys(c.prompt for c in cues)),
        "KEYWORDS": ", ".join(tags), "NOTES": notes,
        "RATING": "" if rating is None else str(rating), "DESIGNER": "CueDeck",
        "LIBRARY": "CueDeck " + ", ".join(sorted({f"{c.model} ({c.licence})" for c in cues})),
    }


def _origin_line(cue: Cue) -> str:
    return bwf.coding_line(cue.sample_rate, "32f", cue.channels,
                           f"audiocraft {cue.audiocraft_version} {cue.model} seed {cue.seed}")


def _otio(timeline: Timeline, mixdown: Mixdown, stem_files: list[str], cues: dict[int, Cue]) -> str:
    """An OpenTimelineIO timeline: one audio track per stem, one clip per stretch of sound
    (overlapping clips on a track merge, since the stem already holds their sum), each
    referencing the stem by relative path."""
    import opentimelineio as otio

    rate = mixdown.rate
    out = otio.schema.Timeline(name=timeline.name, metadata={"cuedeck": {"version": __version__}})
    fps = timecode.frame_rate(timeline.frame_rate)
    out.global_start_time = otio.opentime.RationalTime(
        timecode.frames(timeline.start_timecode, timeline.frame_rate), float(fps.rate))
    length = len(mixdown.mix)
    for index, filename in zip(mixdown.tracks, stem_files):
        track = timeline.tracks[index]
        lane = otio.schema.Track(name=track.name, kind=otio.schema.TrackKind.Audio)
        cursor = 0
        for start, stop, ids in _regions(track.clips, rate):
            if start > cursor:
                lane.append(otio.schema.Gap(source_range=_range(cursor, start - cursor, rate)))
            ref = otio.schema.ExternalReference(target_url=filename, available_range=_range(0, length, rate))
            lane.append(otio.schema.Clip(
                name=" + ".join(cues[i].prompt[:40] for i in ids), media_reference=ref,
                source_range=_range(start, stop - start, rate),
                metadata={"cuedeck": {"cue_ids": ids, "models": sorted({cues[i].model for i in ids}),
                                      "licences": sorted({cues[i].licence for i in ids})}}))
            cursor = stop
        out.tracks.append(lane)
    return otio.adapters.write_to_string(out, "otio_json")


def _regions(clips, rate: int) -> list[tuple[int, int, list[int]]]:
    """(first sample, end sample, cue ids) of each stretch covered by clips, in time order."""
    regions: list[list] = []
    for clip in sorted(clips, key=lambda c: c.at):
        start, stop = round(clip.at * rate), round(clip.at * rate) + round(clip.length * rate)
        if regions and start < regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], stop)
            regions[-1][2] = sorted({*regions[-1][2], clip.cue_id})
        else:
            regions.append([start, stop, [clip.cue_id]])
    return [tuple(r) for r in regions]


def _range(start: int, duration: int, rate: int):
    import opentimelineio as otio

    return otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                   otio.opentime.RationalTime(duration, rate))


def _write_provenance(folder: Path, timeline: Timeline, cues: dict[int, Cue], rate: int,
                      bits: str, fmt: str, when: datetime, delivery: dict) -> None:
    records = [{k: v for k, v in cues[i].to_dict().items() if k in PROVENANCE_FIELDS} for i in timeline.cue_ids()]
    rows = [{k: (", ".join(v) if k == "tags" else v) for k, v in record.items()} for record in records]
    sheet = io.StringIO()
    writer = csv.DictWriter(sheet, PROVENANCE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(folder / "provenance.csv", sheet.getvalue().encode("utf-8"))
    doc = {"timeline": timeline.to_dict(), "exported_at": when.isoformat(timespec="seconds"),
           "cuedeck_version": __version__, "sample_rate": rate, "bits": bits, "format": fmt, "delivery": delivery,
           "cues": [{k: record[k] for k in PROVENANCE_FIELDS} for record in records]}
    write_atomic(folder / "provenance.json", json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"))


CUE_SHEET_FIELDS = ("cue_id", "title", "in", "out", "duration", "usage", "track", "cue", "model", "licence")


def _write_cue_sheet(path: Path, timeline: Timeline, cues: dict[int, Cue]) -> None:
    """A row per clip heard, in time order: cue ID (reel M number: 1M01 for the first clip
    of a timeline that starts at hour 1, reel 1 before it), title, in and out timecode,
    duration, usage (BI: background instrumental; SFX for sound effects), the cue, its model
    and weights licence."""
    reel = max(1, timecode.frames(timeline.start_timecode, timeline.frame_rate)
               // (timecode.frame_rate(timeline.frame_rate).nominal * 3600))
    heard = sorted(((clip, index) for index in timeline.audible() for clip in timeline.tracks[index].clips),
                   key=lambda placed: (placed[0].at, placed[1]))
    sheet = io.StringIO()
    writer = csv.DictWriter(sheet, CUE_SHEET_FIELDS, lineterminator="\n")
    writer.writeheader()
    for number, (clip, index) in enumerate(heard, start=1):
        cue = cues[clip.cue_id]
        minutes, secs = divmod(round(clip.length), 60)
        music = cue.model in registry.MODELS and registry.get(cue.model).kind == "music"
        writer.writerow({
            "cue_id": f"{reel}M{number:02d}", "title": cue.prompt + (f" ({cue.role})" if cue.role else ""),
            "in": timecode.at(timeline.start_timecode, timeline.frame_rate, clip.at),
            "out": timecode.at(timeline.start_timecode, timeline.frame_rate, clip.stop),
            "duration": f"{minutes}:{secs:02d}", "usage": "BI" if music else "SFX",
            "track": timeline.tracks[index].name, "cue": cue.id, "model": cue.model, "licence": cue.licence})
    write_atomic(path, sheet.getvalue().encode("utf-8"))


def _fxname(cue: Cue) -> str:
    words = re.sub(r"[^\w ]+", " ", cue.prompt).split()
    name = " ".join(w.capitalize() for w in words)[:25].strip() or "Cue"
    return f"{name} {cue.role.capitalize() + ' ' if cue.role else ''}{cue.id}"


def _filename(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\x00-\x1f]', "-", name).strip(" .") or "export"


def _place(tmp: Path, folder: Path, name: str, suffix: str = "") -> Path:
    """Rename `tmp` to folder/name+suffix or the first free `name (2)`, `name (3)` …, never
    over anything: a name another export takes meanwhile makes the rename fail, and the
    next name is tried. (A folder's rename fails onto a non-empty folder, which is what a
    finished export is; a file is linked, which fails onto any existing name.)"""
    for n in itertools.count(1):
        final = folder / (f"{name}{suffix}" if n == 1 else f"{name} ({n}){suffix}")
        if final.exists():
            continue
        try:
            if tmp.is_dir():
                os.rename(tmp, final)
            else:
                os.link(tmp, final)
                tmp.unlink()
            return final
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise


def _require_room(timeline: Timeline, cues: dict[int, Cue], out_dir: Path, rate: int, bits: str,
                  files: int) -> None:
    """Refuse an export whose files would not fit on the disk, or whose render would not
    fit in memory, with the figures (FLAC is counted as uncompressed: an upper bound)."""
    channels = max(cues[c].channels for c in timeline.cue_ids())
    samples = math.ceil(timeline.duration * rate) * channels
    width = {"16": 2, "24": 3, "32f": 4}[bits]
    sources = sum(math.ceil(cues[c].duration * rate) * channels * 4 for c in timeline.cue_ids())
    # stems and mix in float32, the cues resampled, and two files being measured at a time
    needed = (len(timeline.audible()) + 1) * samples * 4 + sources + 2 * samples * (width + 4)
    resources.require_memory(needed, f"exporting {timeline.name!r} at {rate} Hz",
                             "export at a lower rate, shorten the timeline, or mute some tracks")
    resources.require_space(out_dir, files * (samples * width + 100_000), f"exporting {timeline.name!r}")


def _writable(out_dir: Path) -> Path:
    out_dir = Path(out_dir).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = staging.part_path(out_dir / "cuedeck-write-test")
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise BadInput(f"cannot write to {out_dir}: {e.strerror or e}; choose another folder") from None
    return out_dir.resolve()

