"""One sentiment call for every language: `SentimentRouter.score(text, language)`.

Each language has a scorer of the same shape (`LanguageScorer`): a `schemas.records.Sentiment` (compound,
shares, label, model and version, confidence) and an `Explanation` of it for `lytte score --explain`. A
language without a scorer gets `unscored`: neutral, confidence 0, flagged, never the English lexicon's guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemas.records import Sentiment

#: languages the sources and the guesser may name that are the same scorer's: Bokmål and Nynorsk are "no"
LANGUAGE_ALIASES = {"nb": "no", "nn": "no", "nob": "no", "nno": "no", "nor": "no", "dan": "da", "swe": "sv"}

UNSCORED = Sentiment(
    compound=0.0, pos=0.0, neu=1.0, neg=0.0, label="neutral", model="unscored", confidence=0.0, scored=False
)


@dataclass(frozen=True)
class TokenValue:
    """A token's lexicon value as the text uses it, and the rules that changed it ("negation", "intensifier",
    "contrast", "complaint:delay", ...)."""

    token: str
    lexicon: float
    value: float
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Explanation:
    sentiment: Sentiment
    tokens: tuple[TokenValue, ...] = ()
    #: rules that changed the score as a whole (a sarcastic thanks, a plea for help, ...)
    rules: tuple[str, ...] = field(default=())


class LanguageScorer(Protocol):
    #: name and version, e.g. "vader-3.3.2+lytte-1"
    model: str

    def score(self, text: str) -> Sentiment: ...

    def explain(self, text: str) -> Explanation: ...


def base_language(language: str) -> str:
    """ "en-GB" -> "en"; "nb" -> "no"; "NN" -> "no"; "" -> "und"."""
    base = (language or "und").split("-")[0].lower()
    return LANGUAGE_ALIASES.get(base, base)


class SentimentRouter:
    def __init__(self, scorers: dict[str, LanguageScorer]) -> None:
        self._scorers = dict(scorers)

    @classmethod
    def default(cls) -> SentimentRouter:
        from streams.sentiment.english import EnglishScorer
        from streams.sentiment.nordic import NordicScorer

        return cls({"en": EnglishScorer(), **{language: NordicScorer(language) for language in ("da", "no", "sv")}})

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._scorers)

    def scorer(self, language: str) -> LanguageScorer | None:
        return self._scorers.get(base_language(language))

    def score(self, text: str, language: str) -> Sentiment:
        """Scenario: ("thanks for the 3 hour delay", "en") -> the English scorer's negative; ("Flyet var
        forsinket", "da") -> the Danish scorer's; ("Der Flug war spät", "de") -> UNSCORED (neutral, scored
        False)."""
        scorer = self.scorer(language)
        return scorer.score(text) if scorer is not None else UNSCORED

    def explain(self, text: str, language: str) -> Explanation:
        scorer = self.scorer(language)
        return scorer.explain(text) if scorer is not None else Explanation(UNSCORED, rules=("unscored language",))
