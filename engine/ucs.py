"""The Universal Category System list (assets/ucs/, v8.2.1, CC0): validation and lookup."""

import difflib
import json
import math
import re
from collections import Counter
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


# -- suggestions: the likeliest CatIDs for a prompt, from the list's own words -----------------

# How much a word counts where an entry names it: its subcategory says what it is; its
# category, synonyms and explanation say less and less. ARCHIVED entries are for workflow files.
WEIGHTS = {"subcategory": 3.0, "category": 2.0, "synonyms": 1.5, "explanation": 1.0}
STOPWORDS = frozenset("""a an and as at by for from in into is it of off on onto or over the to under up
    with without very some sound sounds like type e g etc not""".split())


def _stem(word: str) -> str:
    """Plural, verb and adjective endings off, so "doors", "slamming" and "wooden" meet "door",
    "slam" and "wood" (the list's words go through the same, so any crude cut still meets)."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("en", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + keep
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiousl":  # "slamm" → "slam"
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """For each CatID, {word: weight of the strongest field naming it}; each word's rarity."""
    entries = {}
    for key, c in categories().items():
        if c.category == "ARCHIVED":
            continue
        # The explanation's "Not …" and "See also …" sentences point elsewhere.
        explanation = re.split(r"\b(?:Not|See also|Also see)\b", c.explanation)[0]
        fields = {"subcategory": c.subcategory, "category": c.category, "synonyms": " ".join(c.synonyms),
                  "explanation": explanation}
        weights: dict[str, float] = {}
        for field, text in fields.items():
            for word in _words(text):
                weights[word] = max(weights.get(word, 0.0), WEIGHTS[field])
        weights.pop("misc", None)  # "MISC" subcategories say only that nothing else fits
        entries[key] = weights
    counts = Counter(word for weights in entries.values() for word in weights)
    rarity = {word: math.log(len(entries) / n) for word, n in counts.items()}
    return entries, rarity


def suggest(*texts: str, n: int = 3) -> list[UcsCategory]:
    """The `n` CatIDs that fit `texts` (a prompt and its tags) best, best first; [] when none of
    their words is in the list. Offline, about 2 ms: the UCS list's own words, weighted by
    where they stand (the first call builds the index, about 0.1 s)."""
    entries, rarity = _index()
    query = {word for text in texts for word in _words(text)}
    scores = {key: sum(weights.get(w, 0.0) * rarity.get(w, 0.0) for w in query) for key, weights in entries.items()}
    ranked = sorted((key for key, score in scores.items() if score > 0), key=lambda k: (-scores[k], k))
    return [categories()[key] for key in ranked[:n]]
