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
