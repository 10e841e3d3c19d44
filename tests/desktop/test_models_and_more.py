"""The model manager dialog installing from the stand-in hub (progress, cancel, resume) and
"more like this" from a candidate card, in the real window with the real worker."""

import pytest
from PySide6.QtCore import Qt

from engine import models, registry
from engine.library import Library
from hub_standin import NAME

JOB_TIMEOUT = 120_000


def test_install_from_the_dialog_with_cancel_and_resume(qtbot, window, hub):
    hub.add(models.TEXT_ENCODER, "model.safetensors", b"w" * 60_000_000)
    hub.slow_once["model.safetensors"] = 5.0  # long enough to cancel half way
    window.open_models()
    dialog = window.models_dialog
    qtbot.waitUntil(lambda: dialog.table.rowCount() == len(registry.MODELS) + 1)  # and the stem separator
    dialog.select(NAME)
    assert dialog.install.isEnabled() and "not present" in dialog.table.item(dialog.table.currentRow(), 2).text()
    dialog.install.click()
    qtbot.waitUntil(lambda: dialog.progress.value() > 100, timeout=30_000)  # past 10 %
    dialog.cancel.click()
    qtbot.waitUntil(lambda: "cancelled" in dialog.status.text(), timeout=30_000)
    assert models.state(registry.get(NAME)).state != "present"

    dialog.select(NAME)
    qtbot.waitUntil(dialog.install.isEnabled)
    dialog.install.click()
    assert dialog._process is not None
    qtbot.waitUntil(lambda: dialog._process is None and "…" not in dialog.status.text(), timeout=60_000)
    assert "done" in dialog.status.text(), dialog.status.text()
    assert any("model.safetensors bytes=" in r for r in hub.requests)  # resumed
    qtbot.waitUntil(lambda: window.prompt._present.get(NAME) is True)  # the picker knows
    row = list(registry.MODELS).index(NAME)
    qtbot.waitUntil(lambda: dialog.table.item(row, 2).text() == "present")
    dialog.close()


def test_more_like_this_continues_the_current_candidate(qtbot, window):
    window.prompt.prompt.setPlainText("dark drone")
    window.prompt.negative.setText("choir")
    window.prompt.candidates.setValue(1)
    window.prompt.duration.setValue(2.0)
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    first = window.grid.groups[0]
    qtbot.waitUntil(lambda: first.cards[0].cue is not None, timeout=JOB_TIMEOUT)
    parent = first.cards[0].cue
    window.prompt.candidates.setValue(2)
    window.prompt.negative.clear()  # the continuation steers away from what its cue did
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_M)
    assert len(window.grid.groups) == 2, window.prompt_error.text()
    more = window.grid.groups[-1] if window.grid.groups[-1] is not first else window.grid.groups[0]
    assert "more like cue" in more.header.text()
    qtbot.waitUntil(lambda: all(c.cue for c in more.cards), timeout=JOB_TIMEOUT)
    with Library() as lib:
        for card in more.cards:
            cue = lib.get(card.cue.id)
            assert cue.parent_id == parent.id and cue.conditioning_source.startswith(f"cue {parent.id}")
            assert cue.negative == parent.negative == "choir"
            assert cue.duration == pytest.approx(5.0)  # at least 3 s past the 2 s it starts from
    assert f"Continues cue {parent.id} (cue {parent.id}, last" in more.cards[0].toolTip()
    assert "Not: choir" in more.cards[0].toolTip()


def test_a_card_can_play_its_candidate_while_it_generates(qtbot, window):
    previews = []
    window.engine.preview.connect(lambda *event: previews.append(event))
    window.prompt.prompt.setPlainText("slow evolving pad")
    window.prompt.candidates.setValue(4)
    window.prompt.duration.setValue(30.0)  # long enough to press play half way
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    group = window.grid.groups[0]
    card = group.cards[1]
    qtbot.waitUntil(lambda: card.preview is not None, timeout=JOB_TIMEOUT)
    window.audition.loop = True  # the null device is unclocked: keep it playing
    card.play.click()
    qtbot.waitUntil(lambda: window.audition.playing and window.audition.cue_id == card.audio_key)
    assert card.cue is None and card.audio_key < -1  # still generating, already playing
    qtbot.waitUntil(lambda: card.play.text() == "■")
    qtbot.waitUntil(lambda: all(c.cue for c in group.cards), timeout=JOB_TIMEOUT)
    window.audition.stop()
    qtbot.waitUntil(lambda: not window.audition.playing)
    job_id, seconds, rate, channels, files = previews[0]
    assert job_id == group.job_id and seconds < 30 and (rate, channels, len(files)) == (32000, 1, 4)
