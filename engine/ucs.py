"""The Universal Category System list (assets/ucs/, v8.2.1, CC0): validation and lookup."""

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache

from . import paths
from .errors import BadInput

UCS_FILE = paths.ASSETS / "ucs" / "ucs-8.2.1-en.json"


@dataclass(frozen=True)
class UcsCategory:
    catid: str
    category: str
    subcategory: str
    explanation: str
    synonyms: tuple[str, ...]


@lru_cache(maxsize=1)
def categories() -> dict[str, UcsCategory]:
    """Every CatID, keyed by its upper-case form for case-insensitive lookup."""
    with open(UCS_FILE, encoding="utf-8") as f:
        entries = json.load(f)
    return {e["CatID"].upper(): UcsCategory(e["CatID"], e["Category"], e["SubCategory"],
                                            e["Explanations"], tuple(e["Synonyms"]))
            for e in entries}


def lookup(catid: str) -> UcsCategory:
    found = categories().get(catid.strip().upper())
    if found is None:
        close = difflib.get_close_matches(catid.strip().upper(), categories(), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(categories()[c].catid for c in close)}?)" if close else ""
        raise BadInput(f"{catid!r} is not a UCS CatID{hint}; see `cuedeck ucs` for the list")
    return found


def validate_catid(catid: str) -> str:
    """The canonical spelling of `catid`, or BadInput."""
    return lookup(catid).catid


def catids_named(word: str) -> list[str]:
    """The CatIDs whose category or subcategory contains `word` (any case), for search."""
    word = word.strip().upper()
    return [c.catid for c in categories().values()
            if word and (word in c.category.upper() or word in c.subcategory.upper())]


def catids_in_category(category: str) -> list[str]:
    wanted = category.strip().upper()
    found = [c.catid for c in categories().values() if c.category.upper() == wanted]
    if not found:
        raise BadInput(f"{category!r} is not a UCS category (e.g. AMBIENCE, DOORS, WEAPONS)")
    return found
