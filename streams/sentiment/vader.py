"""VADER (Hutto & Gilbert 2014) behind lytte's Sentiment record, and its reading token by token for
`lytte score --explain` and for the English complaint rules (`streams.sentiment.english`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SPECIAL_CASES, SentimentIntensityAnalyzer, SentiText, negated

from schemas.records import Sentiment
from streams.sentiment.router import Explanation, TokenValue

#: VADER's authors' thresholds on the compound score.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05

#: rules run on a text's tokens between VADER's values and its "but" weighting: given the whitespace tokens
#: and VADER's values (changed in place), they return the rules applied per token index and to the whole text
TokenRules = Callable[[list[str], list[float]], tuple[dict[int, list[str]], list[str]]]


def label_for(compound: float) -> str:
    """0.3 -> "positive"; -0.05 -> "negative"; 0.0 -> "neutral"."""
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= NEGATIVE_AT:
        return "negative"
    return "neutral"


@dataclass
class VaderReading:
    """A text as VADER reads it: its tokens, each token's value as VADER gives it, after any extra rules
    (`ruled`) and after the "but" weighting (`values`, what the scores are made of)."""

    words: list[str]
    vader: list[float]
    ruled: list[float]
    values: list[float]
    scores: dict[str, float]
    token_rules: dict[int, list[str]] = field(default_factory=dict)
    text_rules: list[str] = field(default_factory=list)


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

    def read(self, text: str, rules: TokenRules | None = None) -> VaderReading:
        """`polarity_scores` step by step, keeping every token's value; `rules` may change the values before
        the "but" weighting. Without rules the scores are `polarity_scores(text)`'s.
        Scenario: "not good" -> words ["not", "good"], vader [0, -1.406], compound -0.3412."""
        text = self.describe_emoji(text)
        sentitext = SentiText(text)
        words = sentitext.words_and_emoticons
        values: list[float] = []
        for i, item in enumerate(words):
            lower = item.lower()
            if lower in BOOSTER_DICT or (lower == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"):
                values.append(0)
                continue
            values = self.sentiment_valence(0, sentitext, item, i, values)
        vader = list(values)
        token_rules, text_rules = rules(text.split(), values) if rules is not None else ({}, [])
        ruled = list(values)
        values = self._but_check(words, values)
        return VaderReading(words, vader, ruled, values, self.score_valence(values, text), token_rules, text_rules)

    def describe_emoji(self, text: str) -> str:
        """VADER's emoji step ("I 😀 it" -> "I grinning face it"), at once for text without emoji."""
        if text.isascii():
            return text.strip()
        out: list[str] = []
        prev_space = True
        for ch in text:
            description = self.emojis.get(ch)
            if description is not None:
                if not prev_space:
                    out.append(" ")
                out.append(description)
                prev_space = False
            else:
                out.append(ch)
                prev_space = ch == " "
        return "".join(out).strip()

    def explained_tokens(self, reading: VaderReading) -> tuple[TokenValue, ...]:
        """The tokens that carry a value or a rule, with their lexicon value, the value as used and the rules
        that changed it (VADER's own, see `vader_rules`, then the extra rules).
        Scenario: "not very good" -> (TokenValue("good", 1.9, -1.6228, ("negation", "intensifier")),)."""
        out = []
        for i, word in enumerate(reading.words):
            lexicon = self.lexicon.get(word.lower(), 0.0)
            if lexicon or reading.values[i] or i in reading.token_rules:
                rules = tuple(vader_rules(reading, lexicon, i)) + tuple(reading.token_rules.get(i, ()))
                out.append(TokenValue(token=word, lexicon=lexicon, value=round(reading.values[i], 4), rules=rules))
        return tuple(out)


def vader_rules(reading: VaderReading, lexicon: float, i: int) -> list[str]:
    """Which of VADER's own rules changed token i's value: "negation" (or "negation (kept)" when VADER's
    rule did not flip the sign), "intensifier", "capitals", "idiom", "least", and "contrast" (the "but"
    weighting). Scenario: "not very good" at "good" -> ["negation", "intensifier"]; "good but bad" at "bad"
    -> ["contrast"]."""
    vader, final = reading.vader[i], reading.values[i]
    rules: list[str] = []
    lower = [w.lower() for w in reading.words[max(0, i - 3) : i + 3]]
    before = lower[: min(i, 3)]
    if lexicon and vader != lexicon:
        if negated(before) or "no" in before[-3:]:
            rules.append("negation" if math.copysign(1, vader) != math.copysign(1, lexicon) else "negation (kept)")
        if any(w in BOOSTER_DICT for w in before):
            rules.append("intensifier")
        if reading.words[i].isupper() and abs(vader) > abs(lexicon):
            rules.append("capitals")
        if any(" ".join(lower[a:b]) in SPECIAL_CASES for a in range(len(lower)) for b in range(a + 2, len(lower) + 1)):
            rules.append("idiom")
        if before[-1:] == ["least"]:
            rules.append("least")
        if not rules:
            rules.append("vader")
    if final != reading.ruled[i]:
        rules.append("contrast")
    return rules


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

    def explain(self, text: str) -> Explanation:
        """Scenario: "not very good" -> the negative score and the token "good" 1.9 -> -1.6228 ("negation",
        "intensifier")."""
        reading = self._analyzer.read(text)
        return Explanation(self.score(text), self._analyzer.explained_tokens(reading))
