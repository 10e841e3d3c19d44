"""`cuedeck`: the command line. Expected errors print one line and exit 2 (bad input) or
1 (failure); no traceback."""

import argparse
import json
import logging
import os
import signal
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

from . import __version__, analysis, exchange, paths, registry, resources, timecode, ucs
from .client import EngineClient
from .cluster import ClusterClient, unprotected  # (Ray itself loads only when a cluster is used)
from .errors import BadInput, CueDeckError, GenerationFailed, ModelNotPresent
from .cue import Cue, ranked
from .library import SORTS, Library
from .request import MAX_CANDIDATES, GenerationRequest, check_text
from .timeline import DELIVERY_ROLES, MAX_TRACKS, Clip, Timeline

MAX_ID = 2**63 - 1  # SQLite's integers


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not a usage wall
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _whole(low: int, high: int, what: str):
    """An argparse type: a whole number from `low` to `high` (ids must fit SQLite's int64)."""
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value[:30]!r} is not {what} (a whole number)") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value[:30]} is not {what} (from {low} to {high})")
        return number
    return parse


_id = _whole(1, MAX_ID, "a cue id")
_count = _whole(0, 1_000_000_000, "a count")


def _text(value: str) -> str:
    try:
        return check_text("an argument", value)
    except BadInput as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _bpm_range(value: str) -> tuple[float, float]:
    try:
        return analysis.parse_bpm_range(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _out(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _stars(rating: int) -> str:
    return "★" * rating + "·" * (5 - rating)


def _cue_line(cue: Cue) -> str:
    extras = [f"[{cue.catid}]"] if cue.catid else []
    if cue.measures:
        extras += [x for x in (f"{cue.measures.bpm:g}bpm" if cue.measures.bpm else "", cue.measures.key,
                               cue.measures.tone) if x]
    extras += [f"#{t}" for t in cue.tags]
    keep = "K" if cue.keep else " "
    prompt = cue.prompt if len(cue.prompt) <= 48 else cue.prompt[:47] + "…"
    return (f"{cue.id:>6} {keep} {_stars(cue.rating)} {cue.model:<22} {cue.duration:6.2f}s "
            f"seed {cue.seed:<10} {prompt}  {' '.join(extras)}").rstrip()


def _print_cues(cues, as_json: bool) -> None:
    for cue in cues:
        _out(cue.to_dict()) if as_json else print(_cue_line(cue))


# -- commands ------------------------------------------------------------------------------

def cmd_generate(args) -> int:
    request = GenerationRequest(
        prompt=args.prompt, negative=args.negative, model=args.model, candidates=args.n, duration=args.duration,
        top_k=args.top_k, top_p=args.top_p, temperature=args.temperature, cfg_coef=args.cfg,
        seed=args.seed, parent_id=args.continue_from, prompt_seconds=args.prompt_seconds,
        device=args.device, melody=_melody_argument(args.melody), precision=args.precision, bpm=args.bpm,
        key=args.key, loop=args.loop, bars=args.bars, beats_per_bar=args.beats_per_bar).validated()
    if not args.cluster:
        registry.require_present(registry.get(request.model))  # (a cluster says what it has)
    show = sys.stderr.isatty()

    def progress(event):
        if show:
            print(f"\r{request.model}: {event.stage} {request.candidates} × {request.duration:g} s"
                  f" … {event.fraction:4.0%}", end="", file=sys.stderr, flush=True)

    if args.cluster and unprotected(args.cluster):
        print(f"cuedeck: warning: {args.cluster} is another computer and RAY_AUTH_MODE=token is not set; anyone "
              "who can reach that cluster can run code on it (see the README's safety note)", file=sys.stderr)
    engine = ClusterClient(args.cluster) if args.cluster else EngineClient()
    with Library() as library, engine:  # an unusable library is said before generating
        try:
            cues = exchange.generate(library, engine, request, progress)
        finally:
            if show:
                print(file=sys.stderr)
    for rank, cue in enumerate(ranked(cues, request.bpm, request.key), start=1):  # best first, when asked
        if args.json:
            _out({"id": cue.id, "path": str(cue.path), "seed": cue.seed, "duration": cue.duration,
                  "sample_rate": cue.sample_rate, "channels": cue.channels, "sha256": cue.sha256,
                  "model": cue.model, "licence": cue.licence, "parent_id": cue.parent_id, "rank": rank,
                  "measures": asdict(cue.measures) if cue.measures else None})
        else:
            print(f"{cue.id:>6}  seed {cue.seed:<10} {cue.duration:.2f} s  "
                  f"{cue.sample_rate} Hz  {analysis.summary(cue.measures)}  {cue.path}")
    return 0


def cmd_cluster(args) -> int:
    from .cluster import status

    if not args.address:
        raise BadInput("give the cluster's address (host:port), or set CUEDECK_CLUSTER")
    found = status(args.address)
    if args.json:
        _out(found)
        return 0
    print(f"Ray cluster at {found['address']}")
    for node in found["nodes"]:
        print(f"  node {node['address']}: {'up' if node['alive'] else 'down'}, {node['cpus']:g} CPUs, "
              f"{node['gpus']:g} GPUs")
    for replica in found["replicas"]:
        if not replica["answering"]:
            print(f"  replica {replica['name']}: not answering (starting again after a crash?)")
            continue
        print(f"  replica {replica['name']} on {replica['node']}: "
              f"{'running a job' if replica['running'] else 'idle'}; models: {', '.join(replica['models']) or 'none'}")
    print(f"  jobs: {len(found['running'])} running, {len(found['queued'])} queued"
          + "".join(f"\n    next: {q['job']} from {q['desk']}" for q in found["queued"]))
    return 0


def _melody_argument(value: str | None) -> str | None:
    """A melody file's absolute path (the worker may run elsewhere), or cue:ID as given."""
    if value is None or value.startswith("cue:"):
        return value
    return str(Path(value).expanduser().resolve())


def cmd_models(args) -> int:
    from . import models

    action = getattr(args, "action", None)
    if action == "install":
        return _install(models, args)
    if action == "import":
        from .worker.checkpoints import check_checkpoint  # torch loads here, in this process only

        print(_state_line(models.import_folder(args.name, Path(args.dir), check_checkpoint)))
        return 0
    if action == "remove":
        for path in models.remove(args.name):
            print(f"removed {path}", file=sys.stderr)
        return 0
    for state in models.states():
        _out(state.to_dict()) if args.json else print(_state_line(state))
    return 0


def _state_line(state) -> str:
    info = state.info
    size = "built in" if info.tiny else (f"{state.size_bytes / 1e9:.1f} GB here" if state.size_bytes
                                         else f"~{info.download_bytes / 1e9:.1f} GB")
    where = f"  {state.path}" if state.path and not info.tiny else ""
    detail = f"  ({state.detail})" if state.detail and not info.tiny else ""
    width = max(len(i.label) for i in registry.MODELS.values())  # the columns line up
    return f"{info.label:<{width}}  {state.state:<11} {size:>13}{where}{detail}"


def _install(models, args) -> int:
    if args.cluster:
        return _install_on_cluster(args)
    show = sys.stderr.isatty()

    def progress(done: int, total: int, what: str) -> None:
        if args.progress_json:
            print(json.dumps({"done": done, "total": total, "file": what}), flush=True)
        elif show:
            print(f"\r{done / 1e6:8.1f} / {total / 1e6:.1f} MB  {what[:50]:<50}", end="",
                  file=sys.stderr, flush=True)
    try:
        state = models.install(args.name, progress)
    except KeyboardInterrupt:
        print(f"\ncuedeck: download of {args.name} cancelled; run the install again to resume it",
              file=sys.stderr)
        return 130
    finally:
        if show and not args.progress_json:
            print(file=sys.stderr)
    print(_state_line(state))
    return 0


def _install_on_cluster(args) -> int:
    from .cluster import install

    print(f"installing {args.name} on every node of the Ray cluster at {args.cluster} (each downloads it "
          "from the hub itself)…", file=sys.stderr)
    try:
        found = install(args.cluster, args.name)
    except KeyboardInterrupt:
        print(f"\ncuedeck: install of {args.name} on the cluster cancelled; run it again to resume",
              file=sys.stderr)
        return 130
    for node in found:
        print(f"node {node['node']}: {'installed' if node['installed'] else 'not installed'} ({node['detail']})")
    missing = [node for node in found if not node["installed"]]
    if missing:
        raise GenerationFailed(f"{args.name} is missing on {len(missing)} of {len(found)} nodes, first "
                               f"{missing[0]['node']}: {missing[0]['detail']}")
    return 0


def cmd_ucs(args) -> int:
    query = (args.query or "").lower()
    found = ucs.suggest(args.suggest) if args.suggest else ucs.categories().values()
    for c in found:
        text = " ".join([c.catid, c.category, c.subcategory, c.explanation, *c.synonyms]).lower()
        if query in text:
            if args.json:
                _out({"catid": c.catid, "category": c.category, "subcategory": c.subcategory,
                      "explanation": c.explanation})
            else:
                print(f"{c.catid:<10} {c.category} / {c.subcategory}")
    return 0


def _suggested(cue: Cue) -> str:
    found = ucs.suggest(cue.prompt, *cue.tags, n=1)
    if not found:
        raise BadInput(f"no UCS CatID fits the words of cue {cue.id}'s prompt and tags; give one "
                       "(`cuedeck ucs WORD` lists them)")
    return found[0].catid


def cmd_library(args) -> int:
    if args.action == "export":
        return cmd_export(args)
    if args.action == "check":
        return cmd_check(args)
    if args.action == "measure":
        return cmd_measure(args)
    with Library() as lib:
        if args.action in ("list", "search"):
            cues = lib.search(text=getattr(args, "text", "") or "", tag=args.tag,
                              min_rating=args.min_rating, model=args.model, catid=args.catid,
                              category=args.category, kept=args.kept, bpm=args.bpm, key=args.key,
                              tone=args.tone, sort=args.sort, descending=args.reverse, limit=args.limit)
            _print_cues(cues, args.json)
            return 0
        if args.action == "delete":
            for cue_id in args.ids:
                lib.get(cue_id)  # every id must exist before anything is deleted
            for cue_id in args.ids:
                lib.delete(cue_id)
                print(f"deleted cue {cue_id}", file=sys.stderr)
            return 0
        edits = {
            "show": lambda: lib.get(args.id),
            "rate": lambda: lib.rate(args.id, args.rating),
            "tag": lambda: lib.add_tags(args.id, args.tags),
            "untag": lambda: lib.remove_tags(args.id, args.tags),
            "note": lambda: lib.set_notes(args.id, args.text),
            "catid": lambda: lib.set_catid(args.id, None if args.clear else
                                           _suggested(lib.get(args.id)) if args.suggested else args.catid),
        }
        cue = edits[args.action]()
        if args.json:
            _out(cue.to_dict())
        elif args.action == "show":
            for key, value in cue.to_dict().items():
                print(f"{key:>20}: {value}")
        else:
            print(_cue_line(cue))
    return 0


def cmd_measure(args) -> int:
    """The background pass, at once: measure every cue made before CueDeck measured them."""
    show = sys.stderr.isatty()
    with Library() as lib:
        done, unreadable = lib.measure_missing(on_progress=lambda done, total: show and print(
            f"\rmeasuring {done} of {total} cues", end="", file=sys.stderr, flush=True))
    if show:
        print(file=sys.stderr)
    print(f"measured {done} cues" + (f"; {unreadable} could not be read (`cuedeck library check` lists them)"
                                     if unreadable else ""))
    return 1 if unreadable else 0


def cmd_midi(args) -> int:
    """A cue's notes as a MIDI file: kept beside the cue, and copied to --out."""
    import shutil

    from . import transcription

    show = sys.stderr.isatty() and not args.json
    with Library() as lib:
        cue = lib.get(args.id)
    path = transcription.transcribe_cue(cue, lambda fraction: show and print(
        f"\rtranscribing cue {cue.id}: {fraction:4.0%}", end="", file=sys.stderr, flush=True))
    if show:
        print(file=sys.stderr)
    if args.out:
        out = Path(args.out).expanduser()
        if out.is_dir():
            out = out / f"cue-{cue.id}.mid"
        part = out.with_name(f".{out.name}.part")
        try:
            shutil.copyfile(path, part)
            os.replace(part, out)
        except OSError as e:
            part.unlink(missing_ok=True)
            raise resources.write_failed(e, out, "copying the MIDI file") from None
        path = out
    notes = transcription.read_midi(path)
    if args.json:
        _out({"cue": cue.id, "midi": str(path), "notes": len(notes), "bpm": cue.tempo or transcription.DEFAULT_BPM,
              "lowest": min((n.pitch for n in notes), default=None),
              "highest": max((n.pitch for n in notes), default=None)})
    else:
        span = (f", {transcription.note_name(min(n.pitch for n in notes))}–"
                f"{transcription.note_name(max(n.pitch for n in notes))}" if notes else "")
        print(f"{path}: {len(notes)} notes{span} at {cue.tempo or transcription.DEFAULT_BPM:g} BPM")
    return 0


def cmd_stems(args) -> int:
    """A cue split into drums, bass, other and vocals: four child cues in the library."""
    show = sys.stderr.isatty() and not args.json

    def progress(event):
        if show:
            print(f"\rsplitting cue {args.id} into stems: {event.fraction:4.0%}", end="", file=sys.stderr, flush=True)

    with Library() as library, EngineClient() as engine:
        try:
            stems = exchange.split(library, engine, args.id, progress)
        finally:
            if show:
                print(file=sys.stderr)
    for cue in stems:
        if args.json:
            _out({"id": cue.id, "role": cue.role, "parent_id": cue.parent_id, "path": str(cue.path),
                  "duration": cue.duration, "sample_rate": cue.sample_rate, "channels": cue.channels,
                  "separator": cue.separator, "sha256": cue.sha256})
        else:
            print(f"{cue.id:>6}  {cue.role:<7} {cue.duration:.2f} s  {cue.sample_rate} Hz  {cue.path}")
    return 0


def cmd_check(args) -> int:
    show = sys.stderr.isatty()
    with Library() as lib:
        report = lib.check(args.repair, lambda done, total: show and print(
            f"\rchecking {done} of {total} cues", end="", file=sys.stderr, flush=True))
    if show:
        print(file=sys.stderr)
    if args.json:
        _out({"missing": report.missing, "damaged": [{"id": i, "problem": p} for i, p in report.damaged],
              "orphans": [str(p) for p in report.orphans], "removed": [str(p) for p in report.removed],
              "repaired": args.repair})
    else:
        gone = " (its row was removed)" if args.repair else ""
        for cue_id in report.missing:
            print(f"missing  cue {cue_id}: its file is gone{gone}")
        for cue_id, problem in report.damaged:
            print(f"damaged  cue {cue_id}: its file has {problem}; restore it or "
                  f"`cuedeck library delete {cue_id}`")
        for path in report.orphans:
            print(f"orphan   {path}: no cue claims it{' (removed)' if args.repair else ''}")
        for path in report.removed:
            print(f"removed  {path}: left by an interrupted write")
        summary = "library ok" if report.ok else (
            f"{len(report.missing)} missing, {len(report.damaged)} damaged, {len(report.orphans)} orphan files")
        print(summary + ("" if report.ok or args.repair else "; `cuedeck library check --repair` removes "
                         "orphans and the rows of missing files"), file=sys.stderr)
    return 0 if report.ok or (args.repair and not report.damaged) else 1


def cmd_timeline(args) -> int:
    with Library() as lib:
        if args.action == "list":
            for name in lib.timeline_names():
                print(name)
            return 0
        if args.action == "new":
            timeline = lib.create_timeline(args.name)
        elif args.action == "delete":
            lib.delete_timeline(args.name)
            print(f"deleted timeline {args.name!r}", file=sys.stderr)
            return 0
        elif args.action == "add":
            timeline = lib.save_timeline(_add_clip(lib, lib.timeline(args.name), args))
        elif args.action == "timecode":
            timeline = lib.save_timeline(lib.timeline(args.name).set_timecode(args.start, args.fps))
        elif args.action == "role":
            timeline = lib.save_timeline(lib.timeline(args.name).set_track(
                args.track - 1, role="" if args.role == "auto" else args.role))
        elif args.action == "stems":
            cue, stems = lib.get(args.cue_id), lib.stems_of(args.cue_id)
            if not stems:
                raise BadInput(f"cue {cue.id} has no stems yet: split it first with `cuedeck stems {cue.id}`")
            whole = Clip(cue.id, args.at, 0.0, cue.duration, cue.duration, repeats=cue.loop)
            timeline = lib.save_timeline(lib.timeline(args.name).add_stems(whole, [(s.role, s.id) for s in stems]))
        else:
            timeline = lib.timeline(args.name)
        if args.json:
            _out(timeline.to_dict())
        else:
            _print_timeline(timeline)
    return 0


def _add_clip(lib: Library, timeline: Timeline, args) -> Timeline:
    cue = lib.get(args.cue_id)
    if args.track < 1:
        raise BadInput(f"tracks are numbered from 1; got --track {args.track}")
    while len(timeline.tracks) < args.track:  # pipelines name the track they want
        timeline = timeline.add_track()
    end = cue.duration if args.out is None else args.out
    clip = Clip(cue.id, args.at, args.in_, end, cue.duration, args.gain, args.fade_in, args.fade_out,
                repeats=cue.loop)
    return timeline.add_clip(args.track - 1, clip)


def _print_timeline(timeline: Timeline) -> None:
    grid = "off" if timeline.snap == "off" else f"{timeline.snap_step:g} {timeline.snap}"
    loop = f", loop {timeline.loop[0]:.2f}–{timeline.loop[1]:.2f} s" if timeline.loop else ""
    print(f"{timeline.name}: {timeline.duration:.2f} s, {len(timeline.tracks)} tracks, "
          f"{timeline.tempo:g} BPM, snap {grid}{loop}, starts at {timeline.start_timecode} ({timeline.frame_rate} fps)")
    for n, track in enumerate(timeline.tracks, start=1):
        flags = " ".join(f for f, on in (("muted", track.mute), ("solo", track.solo)) if on)
        role = track.role or "auto role"
        print(f"  {n:>2} {track.name}  {track.gain_db:+.1f} dB  {role} {flags}".rstrip())
        for c in sorted(track.clips, key=lambda c: c.at):
            print(f"       {c.at:8.3f}–{c.stop:8.3f} s  cue {c.cue_id:<6} in {c.start:.3f} out {c.end:.3f}"
                  f"  {c.gain_db:+.1f} dB  fades {c.fade_in:g}/{c.fade_out:g} s")


def cmd_export(args) -> int:
    from .export import Delivery, export_cue, export_timeline

    delivery = Delivery(commercial=args.commercial, loudness=args.loudness, target_lufs=args.lufs,
                        ceiling_dbtp=args.true_peak, stems_follow=not args.stems_as_generated,
                        sign=not args.unsigned, prompts=not args.private, aaf=getattr(args, "aaf", "linked"))
    with Library() as lib:
        if args.command == "export":
            show = sys.stderr.isatty()
            result = export_timeline(
                lib, args.name, Path(args.out), args.rate, args.bits, args.format, midi=args.midi, delivery=delivery,
                on_progress=lambda f, stage: show and print(f"\r{f:4.0%} {stage[:60]:<60}", end="",
                                                            file=sys.stderr, flush=True))
            if show:
                print(file=sys.stderr)
            print(result.summary(), file=sys.stderr)
            if args.json:
                _out(result.report())
            else:
                print(result.folder)
        else:
            print(export_cue(lib.get(args.id), Path(args.out), args.rate, args.bits, args.format, delivery))
    return 0


def cmd_credentials(args) -> int:
    from . import credentials

    if args.action == "use":
        chosen = credentials.use(Path(args.certificate), Path(args.key))
    elif args.action == "local":
        chosen = credentials.use_local()
    else:
        chosen = credentials.identity()
    where = "CueDeck's local authority on this computer (readers call it untrusted)" if chosen.local else \
        "your certificate"
    print(f"exports are signed by {chosen.name}: {where}")
    return 0


def cmd_verify(args) -> int:
    from . import verify

    with Library() as lib, EngineClient() as engine:
        if args.all:
            reports = verify.verify_library(lib, engine)
        elif args.target.isdigit():
            reports = [verify.verify_cue(lib, engine, int(args.target))]
        else:
            reports = verify.verify_file(lib, engine, Path(args.target))
    for report in reports:
        if args.json:
            _out(report.to_dict())
        else:
            print(report.text())
    return 0 if all(r.verdict in ("same", "valid") for r in reports) else 3


def _export_options(parser, default_rate: str) -> None:
    from .loudness import CUSTOM, PRESETS

    parser.add_argument("--out", required=True, help="the folder to export into")
    parser.add_argument("--rate", type=int, help=f"sample rate in Hz (default {default_rate})")
    parser.add_argument("--bits", default="24", help="16, 24 or 32f (default 24)")
    parser.add_argument("--format", default="wav", help="wav or flac (default wav)")
    parser.add_argument("--commercial", action="store_true",
                        help="a commercial delivery: refuse cues whose weights are non-commercial (CC-BY-NC)")
    parser.add_argument("--loudness", default="none", choices=[*PRESETS, CUSTOM],
                        help="deliver at a loudness spec: ebu-r128 (-23 LUFS, -1 dBTP), atsc-a85 (-24, -2), "
                             "streaming-14 or streaming-16 (-1 dBTP), or custom with --lufs and --true-peak "
                             "(default none: as generated)")
    parser.add_argument("--lufs", type=float, help="custom: the integrated loudness target, e.g. -23")
    parser.add_argument("--true-peak", type=float, metavar="DBTP", help="custom: the true-peak ceiling, e.g. -1")
    parser.add_argument("--stems-as-generated", action="store_true",
                        help="with --loudness, leave the stems as they are (default: the mix's gain, held under "
                             "the ceiling)")
    parser.add_argument("--unsigned", action="store_true", help="without C2PA content credentials")
    parser.add_argument("--private", action="store_true", help="leave the prompts out of the content credentials")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cuedeck", description="Generate, audition and organise candidate cues.")
    parser.add_argument("--version", action="version", version=f"cuedeck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = GenerationRequest("")
    g = sub.add_parser("generate", help="generate candidate cues from a prompt")
    g.add_argument("prompt", type=_text)
    g.add_argument("--negative", type=_text, default="", metavar="TEXT",
                   help='what the cues should not have, e.g. "vocals, drums" (guidance steers away from it)')
    g.add_argument("--bpm", type=float,
                   help="the tempo: rank the candidates by how close theirs came to it; a loop's tempo")
    g.add_argument("--key", type=_text,
                   help='rank the candidates by how close their key came to this, e.g. "A minor"')
    g.add_argument("--loop", action="store_true",
                   help="each candidate a seamless loop of --bars at --bpm, or of the duration (smpl/acid chunks)")
    g.add_argument("--bars", type=int, help="with --loop and --bpm: the loop's length in bars")
    g.add_argument("--beats-per-bar", type=int, default=d.beats_per_bar, help=f"default {d.beats_per_bar}")
    g.add_argument("-n", type=int, default=d.candidates, help=f"candidates, 1–{MAX_CANDIDATES} (default {d.candidates})")
    g.add_argument("-d", "--duration", type=float, default=d.duration, help=f"seconds (default {d.duration:g})")
    g.add_argument("--model", default=d.model, help=f"model name, see `cuedeck models` (default {d.model})")
    g.add_argument("--seed", type=int, help="seed of the first candidate (default: random)")
    g.add_argument("--top-k", type=int, default=d.top_k, help=f"default {d.top_k}")
    g.add_argument("--top-p", type=float, default=d.top_p, help="0–1; 0 uses top-k (default 0)")
    g.add_argument("--temperature", type=float, default=d.temperature, help="0 = greedy (default 1)")
    g.add_argument("--cfg", type=float, default=d.cfg_coef, help=f"guidance (default {d.cfg_coef:g})")
    g.add_argument("--continue", dest="continue_from", type=_id, metavar="CUE_ID",
                   help="more like this: continue that cue (its end starts every candidate)")
    g.add_argument("--prompt-seconds", type=float,
                   help="with --continue, how much of the cue's end to start from (default: up to 5 s)")
    g.add_argument("--melody", metavar="FILE|cue:ID",
                   help="melody models: follow this melody (WAV, FLAC, OGG, MP3, or a library cue)")
    g.add_argument("--precision", default=d.precision,
                   help="fp32 (default: the same tokens as audiocraft), or faster: bf16, int8")
    g.add_argument("--device", default=d.device, help="auto (CUDA, else MPS, else CPU), cpu, cuda or mps")
    g.add_argument("--cluster", metavar="ADDRESS", default=os.environ.get("CUEDECK_CLUSTER") or None,
                   help="generate on the Ray cluster at ADDRESS (default: $CUEDECK_CLUSTER, else this computer)")
    g.add_argument("--json", action="store_true", help="one JSON object per candidate")
    g.set_defaults(func=cmd_generate)

    c = sub.add_parser("cluster", help="the Ray cluster to generate on")
    c_sub = c.add_subparsers(dest="action", required=True)
    cs = c_sub.add_parser("status", help="its nodes (CPUs, GPUs), models, and the job it runs")
    cs.add_argument("address", nargs="?", default=os.environ.get("CUEDECK_CLUSTER") or None,
                    help="the cluster's address (default: $CUEDECK_CLUSTER)")
    cs.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cluster)

    m = sub.add_parser("models", help="list, install, import and remove models")
    m.add_argument("--json", action="store_true", help="one JSON object per model")
    m.set_defaults(func=cmd_models)
    acts = m.add_subparsers(dest="action", parser_class=_Parser)
    a = acts.add_parser("install", help="download a model (and the text encoder) from the hub; resumes")
    a.add_argument("name")
    a.add_argument("--progress-json", action="store_true", help="progress as JSON lines on stdout")
    a.add_argument("--cluster", metavar="ADDRESS",
                   help="install on every node of the Ray cluster at ADDRESS instead of this computer")
    a = acts.add_parser("import", help="copy a model folder (state_dict.bin, compression_state_dict.bin) in")
    a.add_argument("name")
    a.add_argument("dir")
    a = acts.add_parser("remove", help="delete a model's files")
    a.add_argument("name")

    u = sub.add_parser("ucs", help="list UCS categories (CatIDs), optionally matching a word")
    u.add_argument("query", nargs="?", type=_text)
    u.add_argument("--suggest", metavar="PROMPT", type=_text,
                   help="the three CatIDs that fit a prompt best, best first")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_ucs)

    lib = sub.add_parser("library", help="list, search and edit the cues in the library")
    acts = lib.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for name, help_text in [("list", "newest cues first"), ("search", "find cues")]:
        a = acts.add_parser(name, help=help_text)
        if name == "search":
            a.add_argument("text", nargs="?", default="", type=_text,
                           help="words to find in prompt, tags, notes, model, CatID or UCS category")
        a.add_argument("--tag", type=_text)
        a.add_argument("--min-rating", type=int)
        a.add_argument("--model")
        a.add_argument("--catid", help="one UCS CatID, e.g. AMBForst")
        a.add_argument("--category", help="a whole UCS category, e.g. AMBIENCE")
        a.add_argument("--kept", action="store_true", help="only the cues marked keep")
        a.add_argument("--bpm", type=_bpm_range, metavar="BPM|LOW-HIGH",
                       help="measured tempo, e.g. 110-130 (120 is ±2)")
        a.add_argument("--key", type=_text, help='measured key, e.g. "A minor" or Am')
        a.add_argument("--tone", choices=analysis.TONES, help="measured brightness")
        a.add_argument("--sort", choices=SORTS, default="newest", help="order (default newest first)")
        a.add_argument("--reverse", action="store_true", help="the other way round (e.g. highest BPM first)")
        a.add_argument("--limit", type=_count, default=None if name == "search" else 50)
        a.add_argument("--json", action="store_true", help="one JSON object per cue")
    for name, extra in [("show", None), ("rate", "rating"), ("tag", "tags"), ("untag", "tags"),
                        ("note", "text"), ("catid", "catid")]:
        a = acts.add_parser(name)
        a.add_argument("id", type=_id)
        if extra == "rating":
            a.add_argument("rating", type=int, help="0–5")
        elif extra == "tags":
            a.add_argument("tags", nargs="+", type=_text)
        elif extra == "text":
            a.add_argument("text", type=_text, help="the notes ('' clears them)")
        elif extra == "catid":
            a.add_argument("catid", nargs="?", type=_text, help="UCS CatID, see `cuedeck ucs`")
            a.add_argument("--clear", action="store_true")
            a.add_argument("--suggested", action="store_true",
                           help="the CatID suggested for the cue's prompt and tags (`cuedeck ucs --suggest`)")
        a.add_argument("--json", action="store_true")
    a = acts.add_parser("delete", help="delete cues: their files and rows")
    a.add_argument("ids", type=_id, nargs="+")
    a = acts.add_parser("check", help="verify every cue's file; list missing, damaged and orphan files")
    a.add_argument("--repair", action="store_true",
                   help="remove orphan files and the rows of missing files (damaged files are only listed)")
    a.add_argument("--json", action="store_true")
    acts.add_parser("measure", help="measure tempo, key, brightness… of the cues made before CueDeck measured them")
    a = acts.add_parser("export", help="export one cue as a tagged WAV/FLAC (UCS-named with a CatID)")
    a.add_argument("id", type=_id)
    _export_options(a, "the cue's own")
    lib.set_defaults(func=cmd_library)

    a = sub.add_parser("midi", help="transcribe a cue's notes to a MIDI file at its tempo (Basic Pitch)")
    a.add_argument("id", type=_id)
    a.add_argument("--out", help="also write it here (a .mid file, or a folder)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_midi)

    a = sub.add_parser("stems", help="split a cue into drums, bass, other and vocals stems (demucs), kept as cues")
    a.add_argument("id", type=_id)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_stems)

    t = sub.add_parser("timeline", help="build timelines of cues")
    acts = t.add_subparsers(dest="action", required=True, parser_class=_Parser)
    acts.add_parser("list", help="the timelines in the library")
    for name, help_text in [("new", "create an empty timeline"), ("show", "tracks and clips"),
                            ("delete", "delete a timeline (its cues stay)")]:
        a = acts.add_parser(name, help=help_text)
        a.add_argument("name", type=_text)
        a.add_argument("--json", action="store_true")
    a = acts.add_parser("add", help="place a cue on a track")
    a.add_argument("name", type=_text)
    a.add_argument("cue_id", type=_id)
    a.add_argument("--track", type=int, default=1, help="track number from 1; missing tracks are added")
    a.add_argument("--at", type=float, default=0.0, help="seconds from timeline zero")
    a.add_argument("--in", dest="in_", type=float, default=0.0, help="in-point in the cue, seconds")
    a.add_argument("--out", type=float,
                   help="out-point in the cue, seconds (default: its end; past it, a loop cue repeats)")
    a.add_argument("--gain", type=float, default=0.0, help="clip gain in dB")
    a.add_argument("--fade-in", type=float, default=0.0, help="seconds")
    a.add_argument("--fade-out", type=float, default=0.0, help="seconds")
    a.add_argument("--json", action="store_true")
    a = acts.add_parser("timecode", help="where timeline zero is on the picture's clock: exports spot to it")
    a.add_argument("name", type=_text)
    a.add_argument("start", help="HH:MM:SS:FF (drop-frame HH:MM:SS;FF), e.g. 01:00:00:00")
    a.add_argument("--fps", choices=list(timecode.RATES), help="frame rate (default: the timeline's, at first 24)")
    a.add_argument("--json", action="store_true")
    a = acts.add_parser("role", help="a track's delivery role, in its stem's file name")
    a.add_argument("name", type=_text)
    a.add_argument("track", type=_whole(1, MAX_TRACKS, "a track number"), help="numbered from 1")
    a.add_argument("role", choices=[*DELIVERY_ROLES, "auto"], help="DX, MX, FX, BG, or auto (MX for music, "
                                                                   "FX for effects)")
    a.add_argument("--json", action="store_true")
    a = acts.add_parser("stems", help="a split cue's stems, a track each, where the cue is (or --at)")
    a.add_argument("name", type=_text)
    a.add_argument("cue_id", type=_id)
    a.add_argument("--at", type=float, default=0.0, help="seconds from timeline zero, when the cue is not placed")
    a.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_timeline)

    e = sub.add_parser("export", help="export a timeline: stems, mix, .otio and provenance")
    e.add_argument("name", type=_text)
    e.add_argument("--json", action="store_true", help="the result as one JSON object")
    e.add_argument("--midi", action="store_true", help="also each stem's notes as a .mid beside it (the timeline's tempo)")
    e.add_argument("--aaf", default="linked", choices=["linked", "embedded", "none"],
                   help="an AAF session for Pro Tools: linking the stems beside it (default), embedding them, "
                        "or none (16- and 24-bit WAV exports)")
    _export_options(e, "48000")
    e.set_defaults(func=cmd_export)

    c = sub.add_parser("credentials", help="who signs the content credentials of exports")
    acts = c.add_subparsers(dest="action", parser_class=_Parser)
    acts.add_parser("show", help="who signs now (the default)")
    a = acts.add_parser("use", help="sign with your own certificate chain and P-256 key (PEM files)")
    a.add_argument("certificate")
    a.add_argument("key")
    acts.add_parser("local", help="sign with CueDeck's local authority again")
    c.set_defaults(func=cmd_credentials, action="show")

    v = sub.add_parser("verify", help="check an exported file's credentials and re-render its cues to compare")
    v.add_argument("target", nargs="?", help="an exported WAV/FLAC, or a cue ID")
    v.add_argument("--all", action="store_true", help="re-render every cue of the library and compare")
    v.add_argument("--json", action="store_true", help="a JSON object per cue or file")
    v.set_defaults(func=cmd_verify)
    return parser


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: the engine worker is stopped, nothing half-written stays


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # run as a program (not called from a test): own the signals
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), _terminated)
    args = build_parser().parse_args(argv)
    if args.command == "verify" and bool(args.target) == bool(args.all):
        print("cuedeck: verify a FILE, a cue ID, or --all", file=sys.stderr)
        return 2
    if getattr(args, "action", None) == "catid" and not (args.clear or args.catid or args.suggested):
        print("cuedeck: give a CatID, --suggested or --clear", file=sys.stderr)
        return 2
    if getattr(args, "rate", None) is None and args.command == "export":
        args.rate = 48000
    try:
        return args.func(args)
    except ModelNotPresent as e:
        print(f"cuedeck: {e}: `cuedeck models install {e.model}` (or `cuedeck models import "
              f"{e.model} DIR`)", file=sys.stderr)
        return e.exit_code
    except CueDeckError as e:
        print(f"cuedeck: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("cuedeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `cuedeck library list | head`
        return 0
    except Exception as e:  # a bug: one line for the user, the traceback in the log
        log = _log_unexpected(sys.argv[1:] if argv is None else argv)
        print(f"cuedeck: unexpected error: {type(e).__name__}: {str(e)[:200]} "
              f"(details in {log}; please report it)", file=sys.stderr)
        return 1


def _log_unexpected(argv: list[str]) -> Path | str:
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "cli.log"
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s cuedeck[%(process)d] %(message)s"))
        logger = logging.getLogger("cuedeck.cli")
        logger.propagate = False  # to the file only: the terminal gets one line
        logger.addHandler(handler)
        logger.error("cuedeck %s\n%s", " ".join(argv), traceback.format_exc())
        logger.removeHandler(handler)
        handler.close()
        return path
    except OSError:
        return "nowhere: the log folder cannot be written"


if __name__ == "__main__":
    sys.exit(main())
