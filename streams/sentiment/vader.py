"""VADER (Hutto & Gilbert 2014) behind lytte's Sentiment record."""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from schemas.records import Sentiment

#: VADER's authors' thresholds on the compound score.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05


def label_for(compound: float) -> str:
    """0.3 -> "positive"; -0.05 -> "negative"; 0.0 -> "neutral"."""
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


class VaderScorer:
    model = "vader-3.3.2"

    def __init__(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, text: str) -> Sentiment:
        """Scenario: "I love this airline" -> compound ~ 0.64, label positive; "worst delay ever" -> negative."""
        s = self._analyzer.polarity_scores(text)
        return Sentiment(
            compound=s["compound"],
            pos=s["pos"],
            neu=s["neu"],
            neg=s["neg"],
            label=label_for(s["compound"]),
            model=self.model,
        )
