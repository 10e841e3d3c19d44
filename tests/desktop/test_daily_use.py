"""Daily use of the real window, as issue 10 found it broken: progress, layouts at laptop size,
the keyboard, one loop state, in-app actions, keep and delete with undo, themes, waveforms."""

import re

import numpy as np
from PySide6.QtCore import QObject, QPoint, QRect, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QPalette
from PySide6.QtWidgets import QApplication

from desktop import theme
from desktop.cue_keys import SHORTCUTS
from desktop.jobs_panel import request_text
from desktop.main_window import MIN_SIZES, MainWindow
from desktop.settings import open_settings
from desktop.waveform import overview, overview_image
from engine import ucs
from engine.request import GenerationRequest
from test_window import JOB_TIMEOUT, add_cues, generate, saved


def reachable(widget) -> bool:
    """Shown, whole, and inside the window: nothing clips it (a scroll bar, a narrow dock)."""
    if not widget.isVisible() or widget.visibleRegion().boundingRect() != widget.rect():
        return False
    window = widget.window()
    return window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))


def show_cues(window, cues, job="job"):
    window.grid.add_job(job, GenerationRequest(cues[0].prompt, candidates=len(cues), duration=1.0,
                                               seed=cues[0].request_seed).validated())
    window.grid.job_done(job, cues)
    return window.grid.current.parentWidget()


def test_progress_of_a_cue_longer_than_the_window_is_whole_job_and_never_past_100(qtbot, window):
    """tiny-sfx generates 10 s windows: a 14 s cue is three of them."""
    seen = []
    window.engine.progress.connect(lambda job, fraction, stage: seen.append((fraction, stage)))
    window.prompt.model.setCurrentIndex(window.prompt.model.findData("tiny-sfx"))
    group = generate(qtbot, window, prompt="rain", n=1, duration=14.0)
    labels = []
    window.engine.progress.connect(lambda *_: labels.append((group.status.text(), group.cards[0].length.text())))
    qtbot.waitUntil(lambda: group.cards[0].cue is not None, timeout=JOB_TIMEOUT)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and all(0 < f <= 1 for f in fractions)
    stages = [s for _, s in seen]
    assert "window 2 of 3" in stages and stages[-2:] == ["decoding", "saving"]
    percents = [int(p) for text, card in labels for p in re.findall(r"(\d+)%", text + card)]
    assert percents and max(percents) <= 100
    assert any(text.startswith("window 3 of 3 · ") for text, _ in labels)


def test_jobs_dock_shows_bar_and_cancel_without_scrolling_and_keeps_its_size(qtbot, window):
    window.jobs.add("j1", request_text(GenerationRequest("a very long prompt " * 8, candidates=8, duration=30.0)))
    row = window.jobs.row("j1")
    qtbot.waitUntil(lambda: reachable(row.cancel) and reachable(row.bar))
    assert window.jobs.horizontalScrollBar().maximum() == 0
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.size().width() == 1024)
    window.close()
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    again.jobs.add("j2", request_text(GenerationRequest("pad", candidates=2, duration=2.0)))
    row = again.jobs.row("j2")
    qtbot.waitUntil(lambda: reachable(row.cancel))
    assert again.jobs.width() >= MIN_SIZES["Jobs"][0]
    again.close()


def test_every_control_is_reachable_at_1024_by_700(qtbot, window):
    window.resize(1024, 700)
    cues = add_cues("wind", 4, seed=5)
    show_cues(window, cues)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.grid.columns >= 2)
    t = window.timeline
    for widget in (t.play_button, t.loop_button, t.export_button, t.picker, window.prompt.generate,
                   window.library.search, window.library.kept):
        qtbot.waitUntil(lambda w=widget: reachable(w))
    cards = window.grid.current.parentWidget().cards
    assert cards[0].y() == cards[1].y()  # two cards side by side, not one
    qtbot.waitUntil(lambda: window.grid.horizontalScrollBar().maximum() == 0)  # once the layout settles


def test_a_saved_layout_larger_than_the_screen_is_fitted_to_it(qtbot, window):
    window.resize(3000, 2000)
    window.move(2500, 1800)
    window.close()
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    again.show()
    screen = again.screen().availableGeometry()
    assert again.width() <= screen.width() and again.height() <= screen.height()
    assert screen.contains(again.geometry())
    again.close()


def test_esc_leaves_tag_and_catid_fields_and_hotkeys_never_land_in_them(qtbot, window):
    cues = add_cues("door", 2, seed=7)
    show_cues(window, cues)
    card = window.grid.current
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    assert window.focusWidget() is card.tag_edit
    qtbot.keyClicks(card.tag_edit, "DOOR")
    qtbot.keyClick(card.tag_edit, Qt.Key.Key_Escape)
    assert window.focusWidget() is window.grid and card.tag_edit.text() == ""
    qtbot.keyClick(window.grid, Qt.Key.Key_C)
    qtbot.keyClicks(card.catid, "Woodl")
    qtbot.keyClick(card.catid, Qt.Key.Key_Escape)
    if QApplication.activePopupWidget():  # the first Esc closes the completion pop-up
        qtbot.keyClick(QApplication.activePopupWidget(), Qt.Key.Key_Escape)
        qtbot.keyClick(card.catid, Qt.Key.Key_Escape)
    assert window.focusWidget() is window.grid and card.catid.text() == ""
    qtbot.keyClick(window.grid, Qt.Key.Key_4)  # a hotkey after Esc rates; it is not typed
    qtbot.waitUntil(lambda: saved(cues[0].id).rating == 4)
    assert saved(cues[0].id).catid is None and saved(cues[0].id).tags == ()
    # Esc from the library's search field goes back to its list
    window.library.focus_search()
    qtbot.keyClick(window.library.search, Qt.Key.Key_Escape)
    assert window.focusWidget() is window.library.view


def test_after_a_menu_closes_with_esc_space_and_keys_still_reach_the_candidates(qtbot, window):
    cues = add_cues("bell", 2, seed=8)
    show_cues(window, cues)
    window.activateWindow()
    window.grid.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)  # the Playback menu
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    qtbot.keyClick(QApplication.activePopupWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None)
    target = window.focusWidget()  # (the menu bar, after Esc)
    qtbot.keyClick(target, Qt.Key.Key_K)  # wherever the focus is now (the menu bar), K keeps
    qtbot.waitUntil(lambda: saved(cues[0].id).keep)
    window.loop_action.setChecked(True)
    window.audition.loop = True
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.audition.playing and window.audition.cue_id == cues[0].id)
    window.audition.stop()
    qtbot.waitUntil(lambda: not window.audition.playing)


def test_loop_is_one_state_in_the_menu_the_cards_and_the_saved_settings(qtbot, window):
    cues = add_cues("drone", 2, seed=9)
    group = show_cues(window, cues)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_L)
    assert window.audition.loop and window.loop_action.isChecked()
    assert all(card.loop.isChecked() for card in group.cards)
    window.loop_action.trigger()  # Playback → Loop
    assert not window.audition.loop and not any(card.loop.isChecked() for card in group.cards)
    qtbot.mouseClick(group.cards[1].loop, Qt.MouseButton.LeftButton)  # the card's own button
    assert window.audition.loop and window.loop_action.isChecked()
    window.close()
    again = MainWindow(open_settings())
    qtbot.addWidget(again)
    assert again.audition.loop and again.loop_action.isChecked()
    again.close()


def test_undo_covers_rating_tags_keep_catid_and_timeline_edits_in_order(qtbot, window):
    cue = add_cues("thunder", 1, seed=10)[0]
    show_cues(window, [cue])
    grid = window.grid
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: saved(cue.id).rating == 3)
    qtbot.keyClick(grid, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: saved(cue.id).keep)
    card = grid.current
    qtbot.keyClick(grid, Qt.Key.Key_T)
    qtbot.keyClicks(card.tag_edit, "storm, distant")
    qtbot.keyClick(card.tag_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: saved(cue.id).tags == ("distant", "storm"))
    qtbot.keyClick(grid, Qt.Key.Key_C)
    qtbot.keyClicks(card.catid, "THUN")
    qtbot.keyClick(card.catid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: saved(cue.id).catid == "THUN")
    assert "CatID" in window.undo_action.text()
    for expect in (lambda c: c.catid is None, lambda c: c.tags == (), lambda c: not c.keep,
                   lambda c: c.rating == 0):
        window.undo_action.trigger()
        qtbot.waitUntil(lambda: expect(saved(cue.id)))
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: saved(cue.id).rating == 3)
    qtbot.waitUntil(lambda: card.stars.rating == 3)  # the card follows


def test_keep_filter_search_by_catid_category_model_and_delete_with_undo(qtbot, window):
    rain = add_cues("rain", 3, seed=11, model="tiny-sfx")
    pad = add_cues("pad", 2, seed=12)
    library = window.library
    library.refresh()
    qtbot.waitUntil(lambda: library.count.text() == "5 cues")
    window.store.set_keep([rain[0]], True)
    window.store.set_catid([pad[1]], "AMBForst")
    library.kept.setChecked(True)
    qtbot.waitUntil(lambda: library.count.text() == "1 cue")
    library.kept.setChecked(False)
    for text, count in (("ambforst", "1 cue"), ("ambience", "1 cue"), ("tiny-sfx", "3 cues")):
        library.search.setText(text)
        qtbot.waitUntil(lambda c=count: library.count.text() == c)
    library.search.clear()
    qtbot.waitUntil(lambda: library.count.text() == "5 cues")

    # multi-select: rate and delete many rows at once, from the keyboard and the menu
    library.view.setFocus()
    library.view.selectAll()
    qtbot.waitUntil(lambda: len(library.selected_cues()) == 5)
    qtbot.keyClick(library.view, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: all(saved(c.id).rating == 2 for c in rain + pad))
    qtbot.keyClick(library.view, Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier)  # each row's suggested CatID
    suggested = {c.id: ucs.suggest(c.prompt)[0].catid for c in rain + pad}
    assert suggested[rain[0].id] == "RAIN" and suggested[pad[0].id] != "RAIN"
    qtbot.waitUntil(lambda: all(saved(i).catid == catid for i, catid in suggested.items()))
    library.view.clearSelection()
    library.view.selectRow(0)
    rect = library.view.visualRect(library.model.index(0, 2))
    library.view.customContextMenuRequested.emit(rect.center())
    labels = [a.text() for a in library.context_menu.actions()]
    assert any(t.startswith("Play") for t in labels) and any("Show the file" in t for t in labels)
    delete = next(a for a in library.context_menu.actions() if a.text().startswith("Delete"))
    library.context_menu.close()
    delete.trigger()
    qtbot.waitUntil(lambda: library.count.text() == "4 cues")
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: library.count.text() == "5 cues")
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: library.count.text() == "4 cues")
    deleted = pad[1].id  # the newest, first row
    window.close()  # only now does the library lose it, file and row
    assert not pad[1].path.exists()
    from engine.library import Library
    with Library() as lib:
        assert deleted not in lib.find()


def test_discard_unkept_candidates_of_a_job_then_undo(qtbot, window):
    cues = add_cues("whoosh", 3, seed=13)
    group = show_cues(window, cues)
    window.store.set_keep([cues[1]], True)
    qtbot.waitUntil(lambda: group.cards[1].keep.isChecked())
    qtbot.mouseClick(group.discard, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: group.cards[0].isHidden() and group.cards[2].isHidden())
    assert group.cards[1].isVisible() and window.grid.current is group.cards[1]
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: all(card.isVisible() for card in group.cards))


def test_layout_glitches_chips_wrap_catid_popup_is_wide_and_numbers_have_room(qtbot, window):
    cues = add_cues("foley", 2, seed=14)
    group = show_cues(window, cues)
    card = group.cards[0]
    window.store.add_tags([cues[0]], ["footsteps", "gravel", "slow walk", "exterior", "close mic", "night"])
    qtbot.waitUntil(lambda: card.tags_row.count() == 6)
    qtbot.waitUntil(lambda: card.height() >= card.layout().totalHeightForWidth(card.width()))
    chips = [card.tags_row.itemAt(i).widget() for i in range(6)]
    assert len({chip.y() for chip in chips}) >= 2  # wrapped onto a second line
    for chip in chips:  # inside the card, below the header, above the tag field
        top_left = chip.mapTo(card, QPoint(0, 0))
        assert card.rect().contains(QRect(top_left, chip.size()))
        assert top_left.y() > card.title.geometry().bottom()
    card.focus_catid()
    assert card.catid.completer().popup().minimumWidth() >= 400
    window.prompt.advanced.setChecked(True)
    for box in (window.prompt.seed, window.prompt.top_k, window.prompt.cfg):
        qtbot.waitUntil(lambda b=box: b.width() >= 100)


def test_help_lists_the_timeline_keys_too(qtbot, window):
    groups = dict(SHORTCUTS)
    assert "Timeline" in groups and any(k == "Home" for k, _ in groups["Timeline"])
    window._show_shortcuts()
    text = window.shortcuts_box.text()
    assert "Timeline" in text and "nudge the selected clip" in text and "play / stop" in text
    window.shortcuts_box.close()


def test_the_about_box_gives_the_versions_and_the_licences(qtbot, window):
    """From package metadata: the window's process never imports torch (test_boundaries)."""
    from importlib.metadata import version

    window._about()
    text = window.about_box.text()
    assert f"audiocraft {version('audiocraft')}, torch {version('torch')}, Qt " in text
    assert "MIT" in text and "CC-BY-NC" in text
    window.about_box.close()


def test_first_run_shows_how_to_get_real_models_and_opens_the_manager(qtbot, window):
    buttons = window.grid.first_run_buttons
    assert [b.text() for b in buttons][:2] == ["Install musicgen-small (music)…",
                                               "Install audiogen-medium (effects)…"]
    assert all(reachable(b) for b in buttons)
    qtbot.mouseClick(buttons[1], Qt.MouseButton.LeftButton)
    dialog = window.models_dialog
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.selected_name() == "audiogen-medium")
    dialog.close()


def test_dark_theme_by_default_and_both_themes_have_readable_text(qtbot, window):
    app = QApplication.instance()
    assert app.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.3  # dark, the default
    for name in ("dark", "light"):
        pal = theme.palette(name, app)
        for fg, bg in ((QPalette.ColorRole.WindowText, QPalette.ColorRole.Window),
                       (QPalette.ColorRole.Text, QPalette.ColorRole.Base),
                       (QPalette.ColorRole.HighlightedText, QPalette.ColorRole.Highlight)):
            assert theme.contrast(pal.color(fg), pal.color(bg)) >= 4.5, (name, fg)
        assert theme.contrast(QColor(theme.ERROR), pal.color(QPalette.ColorRole.Window)) >= 3.0
    theme.apply(app, "light")
    assert app.palette().color(QPalette.ColorRole.Window).lightnessF() > 0.7
    theme.apply(app, "dark")


def test_waveforms_have_a_lane_per_channel_centred_on_zero_and_a_common_scale():
    rate = 8000
    stereo = np.zeros((rate, 2), np.float32)
    stereo[:, 0] = 0.8 * np.sin(np.linspace(0, 200 * np.pi, rate))  # left loud, right silent
    data = overview(stereo)
    assert data.shape == (400, 2, 2)
    lit = QColor("#ffffff").rgba()
    image = overview_image(data, 200, 100, QColor("#ffffff"))
    rows = [sum(image.pixel(x, y) == lit for x in range(200)) for y in range(100)]
    assert sum(rows[:50]) > 20 * 200 and rows[24] == 200  # the left lane, full around its zero line
    assert sum(rows[50:]) <= 2 * 200  # the right lane: its zero line alone
    quiet = overview(stereo[:, :1] * 0.1)
    normalised = overview_image(quiet, 100, 50, QColor("#ffffff"))
    common = overview_image(quiet, 100, 50, QColor("#ffffff"), full_scale=True)

    def count(img):
        return sum(img.pixel(x, y) == lit for x in range(100) for y in range(50))
    assert count(common) < count(normalised) / 4  # at full scale a quiet cue looks quiet


def test_a_region_selected_on_a_card_plays_and_drags_out_alone(qtbot, window):
    cue = add_cues("sweep", 1, seed=15)[0]
    show_cues(window, [cue])
    card = window.grid.current
    window.audition.loop = True  # a quarter-second region: looping, it is still playing when looked at
    wave = card.wave
    y = wave.height() // 2
    qtbot.mousePress(wave, Qt.MouseButton.LeftButton, pos=QPoint(wave.width() // 4, y))
    qtbot.mouseMove(wave, QPoint(wave.width() // 2, y))
    qtbot.mouseRelease(wave, Qt.MouseButton.LeftButton, pos=QPoint(wave.width() // 2, y))
    start, end = card.region
    assert abs(start - 0.25) < 0.02 and abs(end - 0.5) < 0.02
    qtbot.waitUntil(lambda: window.audition.playing and window.audition.cue_id == cue.id)
    from desktop.candidate_card import CUE_MIME, cue_mime_data, parse_cue_mime
    mime = cue_mime_data([cue], card.region)
    assert parse_cue_mime(bytes(mime.data(CUE_MIME))) == [(cue.id, (round(start, 4), round(end, 4)))]
    window.timeline_doc.create("Reel")
    qtbot.waitUntil(lambda: window.timeline_doc.timeline is not None)
    window.timeline_doc.add_cues([cue.id], 0, 0.0, {cue.id: card.region})
    qtbot.waitUntil(lambda: bool(window.timeline_doc.timeline.tracks and window.timeline_doc.timeline.tracks[0].clips))
    clip = window.timeline_doc.timeline.tracks[0].clips[0]
    assert abs(clip.start - start) < 1e-3 and abs(clip.end - end) < 1e-3
    window.audition.stop()
    qtbot.waitUntil(lambda: not window.audition.playing)


def test_export_shows_a_notice_that_opens_the_folder(qtbot, window, tmp_path):
    cue = add_cues("stinger", 1, seed=16)[0]
    opened = []

    class Handler(QObject):  # what QDesktopServices calls instead of a file manager
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url.toLocalFile())
    handler = Handler()
    QDesktopServices.setUrlHandler("file", handler, "open")
    try:
        window._export_cue(cue.id, {"out_dir": tmp_path, "rate": None, "bits": "24", "fmt": "wav"})
        qtbot.waitUntil(lambda: window.notice.isVisible(), timeout=30_000)
        assert "Exported cue" in window.notice.text.text() and not window.notice.hasFocus()
        qtbot.mouseClick(window.notice.open_folder, Qt.MouseButton.LeftButton)
        assert opened == [str(tmp_path)]
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_many_library_rows_take_tags_and_a_catid_at_once_and_one_undo_reverts_them(qtbot, window):
    cues = add_cues("creak", 3, seed=17)
    library = window.library
    library.refresh()
    qtbot.waitUntil(lambda: library.count.text() == "3 cues")
    library.view.setFocus()
    library.view.selectAll()
    qtbot.waitUntil(lambda: len(library.selected_cues()) == 3)
    qtbot.keyClick(library.view, Qt.Key.Key_T)
    library.input_dialog.setTextValue("wood, old door")
    library.input_dialog.accept()
    qtbot.waitUntil(lambda: all(saved(c.id).tags == ("old door", "wood") for c in cues))
    qtbot.keyClick(library.view, Qt.Key.Key_C)
    library.input_dialog.setTextValue("DOORWood")
    library.input_dialog.accept()
    qtbot.waitUntil(lambda: all(saved(c.id).catid == "DOORWood" for c in cues))
    window.undo_action.trigger()  # one step for all three
    qtbot.waitUntil(lambda: all(saved(c.id).catid is None for c in cues))
    assert all(saved(c.id).tags == ("old door", "wood") for c in cues)
