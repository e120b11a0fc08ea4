"""The Danish, Norwegian and Swedish word valences, from the files in `streams/sentiment/lexicons/`.

Which files make a language's lexicon (earlier files win where they overlap):
- da: AFINN-da-32, then lytte's service-failure words, then asent's emoji.
- no: AFINN-no-165, then lytte's service-failure words, then asent's emoji, then AFINN-da-32 for the words
  the Norwegian list lacks (written Bokmål grew out of written Danish and shares most of its words; the false
  friends in `DANISH_FALSE_FRIENDS` are left out). Each Bokmål word is also found under its
  Nynorsk spellings ("dårlig" -> "dårleg", "skuffet" -> "skuffa"; `nynorsk_spellings`) where that word is not
  in the lexicon already, so a post in either written standard finds it with one lookup.
- sv: the Swedish VADER lexicon (vaderSentiment-swedish 1.0.3), then AFINN-sv-165 for the words it lacks (its
  -5..5 scale brought to VADER's -4..4), then lytte's service-failure words, then asent's emoji.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from streams.sentiment.nordic_rules import SERVICE_FAILURES

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

#: AFINN's -5..5 brought to the Swedish VADER lexicon's -4..4 where the two are merged
AFINN_TO_VADER = 4 / 5

#: Danish lexicon words that mean something else in Norwegian: "rar" is "sweet" in Danish, "strange" in
#: Norwegian; "grine" is "laugh" in Danish, "cry" or "grimace" in Norwegian.
DANISH_FALSE_FRIENDS = frozenset({"rar", "rare", "rart", "grine", "griner", "grinede", "grinende"})

#: Bokmål endings and their Nynorsk counterparts (adjectives in -lig, present participles, weak past
#: participles in -et)
NYNORSK_ENDINGS = (
    ("ligste", "legaste"),
    ("ligst", "legast"),
    ("lige", "lege"),
    ("ligt", "legt"),
    ("lig", "leg"),
    ("ende", "ande"),
    ("et", "a"),
)


@dataclass(frozen=True)
class Lexicon:
    """One language's valences: single words, and phrases of two or three words keyed by their first word."""

    words: dict[str, float]
    phrases: dict[str, tuple[tuple[str, ...], ...]]
    #: words added under another spelling, and the lexicon's own: {"dårleg": "dårlig"}
    respelled: dict[str, str] = field(default_factory=dict)
    #: the first two words of every phrase: most words that start a phrase are not followed by its second
    pairs: frozenset[tuple[str, str]] = frozenset()

    def phrase_at(self, words: list[str], i: int) -> tuple[str, ...] | None:
        """The longest lexicon phrase starting at words[i]: ["det", "er", "ved", "et", "uhell"], 2 ->
        ("ved", "et", "uhell") when the lexicon has "ved et uhell"; None when none starts there."""
        if i + 1 >= len(words) or (words[i], words[i + 1]) not in self.pairs:
            return None
        for phrase in self.phrases.get(words[i], ()):
            if len(words) - i >= len(phrase) and all(words[i + k] == w for k, w in enumerate(phrase)):
                return phrase
        return None


def read_tsv(path: Path) -> dict[str, float]:
    """'god\\t3\\n' -> {"god": 3.0}; the first two tab-separated fields of each line, blank lines skipped."""
    valences: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0].strip():
            valences.setdefault(fields[0].strip().lower(), float(fields[1]))
    return valences


def read_emoji() -> dict[str, float]:
    return {k: float(v) for k, v in json.loads((LEXICON_DIR / "asent-emoji-v1.json").read_text("utf-8")).items()}


def merged(*sources: dict[str, float]) -> dict[str, float]:
    """Earlier sources win: merged({"a": 1}, {"a": 2, "b": 3}) -> {"a": 1, "b": 3}."""
    out: dict[str, float] = {}
    for source in sources:
        for word, value in source.items():
            out.setdefault(word, value)
    return out


def as_lexicon(valences: dict[str, float], respelled: dict[str, str] | None = None) -> Lexicon:
    """Splits multi-word entries off: {"god": 3, "med fordel": 2} -> words {"god": 3, "med fordel": 2}, phrases
    {"med": (("med", "fordel"),)} (a phrase's value is found under its words joined by a space)."""
    phrases: dict[str, list[tuple[str, ...]]] = {}
    for entry in valences:
        parts = tuple(entry.split())
        if len(parts) > 1:
            phrases.setdefault(parts[0], []).append(parts)
    ordered = {first: tuple(sorted(ps, key=len, reverse=True)) for first, ps in phrases.items()}
    pairs = frozenset(p[:2] for ps in ordered.values() for p in ps)
    return Lexicon(words=valences, phrases=ordered, respelled=respelled or {}, pairs=pairs)


@cache
def lexicon_for(language: str) -> Lexicon:
    """ "da" | "no" | "sv" -> that language's Lexicon (read once per process); "de" -> ValueError."""
    if language not in SERVICE_FAILURES:
        raise ValueError(f"no Nordic lexicon for {language!r}")
    service = {w: float(v) for w, v in SERVICE_FAILURES[language].items()}
    if language == "da":
        return as_lexicon(merged(read_tsv(LEXICON_DIR / "AFINN-da-32.txt"), service, read_emoji()))
    if language == "no":
        danish = {w: v for w, v in read_tsv(LEXICON_DIR / "AFINN-da-32.txt").items() if w not in DANISH_FALSE_FRIENDS}
        bokmal = merged(read_tsv(LEXICON_DIR / "AFINN-no-165.txt"), service, read_emoji(), danish)
        respelled = {nn: nb for nb in bokmal for nn in nynorsk_spellings(nb) if nn not in bokmal}
        return as_lexicon(bokmal | {nn: bokmal[nb] for nn, nb in respelled.items()}, respelled)
    afinn = {w: v * AFINN_TO_VADER for w, v in read_tsv(LEXICON_DIR / "AFINN-sv-165.txt").items()}
    vader_service = {w: v * AFINN_TO_VADER for w, v in service.items()}
    return as_lexicon(merged(read_tsv(LEXICON_DIR / "vader-sv-1.0.3.txt"), afinn, vader_service, read_emoji()))


def nynorsk_spellings(word: str) -> tuple[str, ...]:
    """Nynorsk spellings of a Bokmål word by its ending: "dårlig" -> ("dårleg",); "skuffet" -> ("skuffa",);
    "spennende" -> ("spennande",); "god" -> (); a phrase or a word under five letters -> ()."""
    if len(word) < 5 or " " in word:
        return ()
    for nb, nn in NYNORSK_ENDINGS:
        if word.endswith(nb):
            return (word[: -len(nb)] + nn,)
    return ()
