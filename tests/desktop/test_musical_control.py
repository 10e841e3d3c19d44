"""Musical control in the window: cards show the measures (best first when a job wanted a tempo
or key), the library lists, filters and sorts by them, older cues are measured in the
background; loops are asked for in bars at a tempo and audition in a loop."""

import numpy as np
from PySide6.QtCore import Qt

from desktop.main_window import MainWindow
from desktop.settings import open_settings
from engine import analysis
from engine.cue import ranked
from engine.library import Library
from engine.request import GenerationRequest
from synthetic_music import RATE, beats

BPM_COLUMN, KEY_COLUMN, TONE_COLUMN = 9, 10, 11


def rows(panel) -> list[int]:
    return [panel.model.cue_at(r).id for r in range(panel.model.rowCount()) if panel.model.cue_at(r)]


def test_older_cues_are_measured_in_the_background_and_the_library_filters_and_sorts_by_them(qtbot, cuedeck_home):
    request = GenerationRequest("beats", candidates=3, duration=6, seed=1).validated()
    with Library() as lib:  # as cues made before CueDeck measured them
        slow, mid, fast = lib.add_batch(request, np.stack([beats(bpm, 6, seed=2) for bpm in (90, 125, 160)]),
                                        RATE, [1, 2, 3], "job", "1.3.0")
    window = MainWindow(open_settings())
    qtbot.addWidget(window)
    window.show()
    panel = window.library
    bpm_of = {}

    def measured() -> bool:
        for r in range(panel.model.rowCount()):
            cue = panel.model.cue_at(r)
            if cue and cue.measures:
                bpm_of[cue.id] = panel.model.index(r, BPM_COLUMN).data()
        return len(bpm_of) == 3

    qtbot.waitUntil(measured, timeout=60_000)  # the child process imports librosa first
    assert {i: round(float(b)) for i, b in bpm_of.items()} == {slow.id: 90, mid.id: 125, fast.id: 160}
    qtbot.waitUntil(lambda: "Measured 3 older cues" in window.statusBar().currentMessage())

    panel.tempo.setText("120-130")
    qtbot.waitUntil(lambda: rows(panel) == [mid.id])
    panel.tempo.setText("fast")  # not a tempo: said on the field, the list unfiltered
    qtbot.waitUntil(lambda: len(rows(panel)) == 3)
    assert "is not a tempo" in panel.tempo.toolTip() and panel.tempo.styleSheet()
    panel.tempo.clear()
    panel.view.sortByColumn(BPM_COLUMN, Qt.SortOrder.AscendingOrder)  # a click on the BPM header
    qtbot.waitUntil(lambda: rows(panel) == [slow.id, mid.id, fast.id])
    panel.view.sortByColumn(BPM_COLUMN, Qt.SortOrder.DescendingOrder)
    qtbot.waitUntil(lambda: rows(panel) == [fast.id, mid.id, slow.id])
    key = Library().get(mid.id).measures.key
    panel.key.setCurrentIndex(panel.key.findData(key))
    qtbot.waitUntil(lambda: mid.id in rows(panel) and all(
        panel.model.index(r, KEY_COLUMN).data() == key for r in range(panel.model.rowCount())))
    panel.key.setCurrentIndex(0)
    tone = panel.model.index(0, TONE_COLUMN).data()
    panel.tone.setCurrentIndex(panel.tone.findData(tone))
    qtbot.waitUntil(lambda: panel.model.rowCount() >= 1 and all(
        panel.model.index(r, TONE_COLUMN).data() == tone for r in range(panel.model.rowCount())))
    window.close()


def test_a_job_that_wanted_a_tempo_and_key_shows_its_candidates_best_first(qtbot, window):
    request = GenerationRequest("groove", candidates=3, duration=1, seed=4, bpm=120, key="A minor").validated()
    found = [analysis.Measures(96.0, 0.6, "A minor", 0.7, -2.0, 900.0, 3.0),
             analysis.Measures(121.0, 0.8, "A minor", 0.8, -1.0, 1500.0, 4.0),
             analysis.Measures(120.0, 0.8, "F# major", 0.5, -3.0, 3500.0, 5.0)]
    with Library() as lib:
        cues = lib.add_batch(request, np.zeros((3, 1, 16000), np.float32), 16000, [4, 5, 6], "j", "1.3.0",
                             measures=found)
    window.grid.add_job("j", request)
    window.grid.job_done("j", cues)
    group = window.grid.groups[0]
    assert [card.cue.seed for card in group.cards] == [c.seed for c in ranked(cues, 120, "A minor")] == [5, 4, 6]
    assert window.grid.current is group.cards[0]
    best = group.cards[0]
    assert "best of 3" in best.measured.text() and "121 BPM · A minor · neutral · -1.0 dBTP" in best.measured.text()
    assert "Ranked best of 3 by how close it came to 120 BPM, A minor" in best.measured.toolTip()
    assert "3rd of 3" in group.cards[2].measured.text() and "bright" in group.cards[2].measured.text()
    assert "best first for 120 BPM, A minor" in group.header.text()
    assert "Ranked by 120 BPM, A minor" in best.toolTip() and "Measured: 121 BPM" in best.toolTip()


def test_the_prompt_panel_asks_for_a_tempo_key_and_loop_and_remembers_them(qtbot):
    first = MainWindow(open_settings())
    qtbot.addWidget(first)
    panel = first.prompt
    panel.prompt.setPlainText("groove")
    request = panel.request()
    assert (request.bpm, request.key, request.loop) == (None, None, False)  # any: batch order, no loop
    assert not panel.bars.isEnabled()
    panel.bpm.setValue(128)
    panel.key.setCurrentIndex(panel.key.findData("F# minor"))
    panel.loop.setChecked(True)
    panel.bars.setValue(8)
    assert panel.duration.value() == 15.0 and not panel.duration.isEnabled()  # 8 bars of 4 at 128 BPM
    first.close()
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    request = again.prompt.request().validated()
    assert (request.bpm, request.key, request.loop, request.bars, request.duration) == (128, "F# minor", True, 8, 15)
    again.prompt.bars.setValue(0)  # a loop of the duration's seconds, for ambiences
    assert again.prompt.duration.isEnabled() and again.prompt.request().bars is None
    again.close()


def test_a_loop_generated_in_the_window_says_so_and_auditions_in_a_loop(qtbot, window):
    window.prompt.prompt.setPlainText("drum loop")
    window.prompt.candidates.setValue(1)
    window.prompt.bpm.setValue(120)
    window.prompt.loop.setChecked(True)
    window.prompt.bars.setValue(1)
    qtbot.keyClick(window.prompt.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (card,) = window.grid.groups[0].cards
    qtbot.waitUntil(lambda: card.cue is not None, timeout=120_000)
    assert card.cue.loop and card.cue.duration == 2.0 and "⟲ 1 bars" in card.measured.text()
    assert not window.audition.loop
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.audition.playing and window.audition.loop)  # a loop loops, L shows it
    assert window.loop_action.isChecked()
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.audition.playing)
