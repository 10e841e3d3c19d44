import pytest

from engine import ucs
from engine.errors import BadInput


def test_the_whole_ucs_list_is_loaded_from_assets():
    cats = ucs.categories()
    assert len(cats) == 752
    forest = ucs.lookup("AMBForst")
    assert (forest.category, forest.subcategory) == ("AMBIENCE", "FOREST")


def test_catids_are_case_insensitive_and_canonicalised():
    assert ucs.validate_catid(" ambforst ") == "AMBForst"


def test_unknown_catid_suggests_close_ones():
    with pytest.raises(BadInput, match="did you mean AMBForst"):
        ucs.validate_catid("AMBFrst")


def test_categories_list_their_catids():
    assert "AMBForst" in ucs.catids_in_category("ambience")
    with pytest.raises(BadInput, match="not a UCS category"):
        ucs.catids_in_category("NOPE")


def test_suggestions_put_the_fitting_catid_first_and_tags_narrow_them():
    assert [c.catid for c in ucs.suggest("heavy wooden door slam")][0] == "DOORWood"
    assert [c.catid for c in ucs.suggest("rain on a tin roof")] == ["RAINMetl", "RAINInt", "RAINWood"]
    assert ucs.suggest("impact")[0].catid != "GLASImpt"
    assert ucs.suggest("impact", "glass")[0].catid == "GLASImpt"  # a tag narrows it
    assert [c.catid for c in ucs.suggest("dog barking", n=1)] == ["ANMLDog"]


def test_words_the_list_does_not_know_suggest_nothing_and_archived_entries_never_come_up():
    assert ucs.suggest("qwzx blorp") == [] and ucs.suggest("") == []
    assert all(c.category != "ARCHIVED" for c in ucs.suggest("mix test reference raw wip"))
