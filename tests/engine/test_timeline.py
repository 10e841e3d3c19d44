"""The timeline model: edits, validation, snapping, undo/redo and storage in the library."""

import pytest

from engine.errors import BadInput, NotFound
from engine.library import Library
from engine.timeline import Clip, History, Timeline


def clip(cue_id=1, at=0.0, start=0.0, end=4.0, source=8.0, **kw) -> Clip:
    return Clip(cue_id, at, start, end, source, **kw)


def test_edits_return_new_timelines_and_leave_the_old_one_alone():
    empty = Timeline("Scene")
    one = empty.add_clip(0, clip(at=2.0))
    assert empty.duration == 0 and one.duration == 6.0
    two = one.add_track("FX").move_clip(0, 0, 1, 3.0)
    assert two.tracks[0].clips == () and two.tracks[1].clips[0].at == 3.0
    assert two.tracks[1].name == "FX" and one.tracks[0].clips[0].at == 2.0


def test_trim_moves_one_edge_and_keeps_the_sound_in_place():
    t = Timeline("T").add_clip(0, clip(at=10.0, start=1.0, end=5.0, source=8.0))
    left = t.trim_clip(0, 0, "left", 11.5)
    c = left.tracks[0].clips[0]
    assert (c.at, c.start, c.end) == (11.5, 2.5, 5.0)  # the audio under the clip did not move
    assert left.trim_clip(0, 0, "left", 0.0).tracks[0].clips[0].start == 0.0  # not before the cue
    right = t.trim_clip(0, 0, "right", 100.0).tracks[0].clips[0]
    assert right.end == 8.0  # not past the cue's end
    assert t.trim_clip(0, 0, "right", 5.0).tracks[0].clips[0].length == pytest.approx(0.01)


def test_mute_and_solo_choose_the_audible_tracks():
    t = Timeline("T").add_track().add_track()
    assert t.audible() == [0, 1, 2]
    assert t.set_track(1, mute=True).audible() == [0, 2]
    assert t.set_track(2, solo=True).set_track(0, solo=True).audible() == [0, 2]


def test_snap_to_seconds_and_to_bars_at_a_tempo():
    t = Timeline("T")
    assert t.snapped(1.3) == 1.5 and t.snapped(-3) == 0.0
    bars = t.set_grid(snap="bars", snap_step=1, tempo=90)  # one 4/4 bar at 90 BPM = 2.667 s
    assert bars.snapped(3.0) == pytest.approx(8 / 3)
    assert t.set_grid(snap="off").snapped(1.234) == 1.234


@pytest.mark.parametrize("bad, words", [
    (dict(end=9.0), "inside cue 1"), (dict(start=3.0, end=2.0), "in before out"),
    (dict(at=-1.0), "starts between"), (dict(gain_db=40.0), "clip gain"),
    (dict(fade_in=3.0, fade_out=2.0), "fades"), (dict(at=float("nan")), "numbers"),
])
def test_bad_clips_are_refused_with_a_reason(bad, words):
    with pytest.raises(BadInput, match=words):
        Timeline("T").add_clip(0, clip(**bad))


def test_bad_track_and_grid_edits_are_refused():
    t = Timeline("T")
    with pytest.raises(BadInput, match="no track 3"):
        t.add_clip(2, clip())
    with pytest.raises(BadInput, match="cannot be empty"):
        t.set_track(0, name="  ")
    with pytest.raises(BadInput, match="tempo"):
        t.set_grid(tempo=1000)
    with pytest.raises(BadInput, match="snap is one of"):
        t.set_grid(snap="beats")


def test_history_undoes_and_redoes_every_edit_and_forgets_the_redo_branch():
    h = History(Timeline("T"))
    h.push(h.current.add_clip(0, clip()))
    h.push(h.current.set_clip(0, 0, gain_db=-6.0))
    assert h.undo().tracks[0].clips[0].gain_db == 0.0
    assert h.undo().tracks[0].clips == ()
    assert not h.can_undo()
    assert h.redo().tracks[0].clips[0].gain_db == 0.0
    h.push(h.current.add_track("New"))
    assert not h.can_redo() and len(h.current.tracks) == 2


def test_timelines_are_stored_in_the_library_and_reopen_exactly_as_left():
    t = (Timeline("Scene 12").add_track("Drones").add_clip(1, clip(at=1.25, gain_db=-3.0, fade_in=0.5))
         .set_track(0, mute=True).set_grid(snap="bars", snap_step=2, tempo=96).set_loop(1.0, 3.0))
    with Library() as lib:
        lib.create_timeline("Scene 12")
        lib.save_timeline(t)
        lib.create_timeline("Other")
    with Library() as lib:
        assert lib.timeline("scene 12") == t
        assert lib.timeline_names() == ["Other", "Scene 12"]
        lib.save_timeline(t.renamed("Scene 12b"), old_name="Scene 12")
        assert lib.timeline_names() == ["Other", "Scene 12b"]
        with pytest.raises(BadInput, match="already exists"):
            lib.create_timeline("other")
        lib.delete_timeline("Other")
        with pytest.raises(NotFound, match="no timeline named 'Other'"):
            lib.timeline("Other")
