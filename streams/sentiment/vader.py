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


class LinearVader(SentimentIntensityAnalyzer):
    """VADER with the same scores in linear time.

    vaderSentiment 3.3.2's `_negation_check` and `_special_idioms_check` lower-case the whole text's word
    list again for every sentiment word, so a post's cost grows with the square of its length: 25,000
    emoji (each becomes words such as "grinning face") took 382 s and froze a worker. Both checks only read
    the words from three before to two after the current one, so they get that window, re-indexed.
    """

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        lo = max(0, i - 3)
        return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons[lo : i + 1], start_i, i - lo)

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        lo = max(0, i - 3)
        window = words_and_emoticons[lo : i + 3]
        return SentimentIntensityAnalyzer._special_idioms_check(valence, window, i - lo)


class VaderScorer:
    model = "vader-3.3.2"

    def __init__(self) -> None:
        self._analyzer = LinearVader()

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
