"""Danish, Norwegian (Bokmål and Nynorsk) and Swedish sentiment: asent's lexicons and rules, without spaCy.

asent 0.8.3 (MIT) scores a spaCy Doc with VADER's rules; the worker cannot pay for a spaCy pipeline per post,
so this is the same computation on a regex tokenizer. Measured on the same 1,910 Danish and Norwegian
sentences (CPU time): asent's pipeline (blank spaCy tokenizer + sentencizer) about 1,000-1,700 posts/s,
LinearVader 16,000-26,000, these scorers 20,000-30,000.

- a word's valence comes from its language's lexicon (`nordic_lexicon`), lower-cased; a word written in
  capitals among words that are not gets +-0.733;
- an intensifier up to three words before it adds +-0.293 (x1, x0.95, x0.9 by distance; "lidt"/"litt"/"lite"
  subtract), a negation up to three words before it multiplies it by -0.74 ("ikke godt" -> negative);
- within a sentence, words before the first contrast word ("men", "dog", "dock") count x0.5, the rest x1.5;
- a sentence's sum gets +-0.292 per "!" (up to 4) and +-0.18 per "?" (2 or 3; 0.96 for more), then
  compound = sum / sqrt(sum^2 + 15); the post's compound is the mean over its sentences, as asent's Doc does.

Where this differs from asent: sentences are split on ".", "!", "?" and new lines instead of a parser;
punctuation is not counted as neutral tokens; lexicon phrases of two or three words ("ved et uhell") are
matched (asent's single-token lookup never finds them); the word lists are corrected (`nordic_rules`).

`explain` names the rules per token: "negation:ikke", "intensifier:meget", "dampener:lidt", "capitals",
"nynorsk:dårleg->dårlig", "contrast:before men" / "contrast:after men"; and per post: "contrast:men (...)",
"punctuation:+0.584", "2 sentences: the compound is their mean".

Labels (documented thresholds, VADER's): compound >= 0.05 positive, <= -0.05 negative, neutral between.
Confidence (a monotone reading of the compound, not a calibrated probability): a positive or negative label
0.5 at the threshold rising linearly to 1.0 at |compound| >= 0.5; neutral with no lexicon word 0.6 (most such
posts are neutral); neutral because positive and negative words cancel 0.4.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from schemas.records import Sentiment
from streams.sentiment.nordic_lexicon import Lexicon, lexicon_for
from streams.sentiment.nordic_rules import (
    AFTER_CONTRAST,
    BEFORE_CONTRAST,
    C_INCR,
    DANISH_CONTRAST,
    DANISH_INTENSIFIERS,
    DANISH_NEGATIONS,
    LOOKBACK_WEIGHTS,
    N_SCALAR,
    NORWEGIAN_CONTRAST,
    NORWEGIAN_INTENSIFIERS,
    NORWEGIAN_NEGATIONS,
    SWEDISH_CONTRAST,
    SWEDISH_INTENSIFIERS,
    SWEDISH_NEGATIONS,
)
from streams.sentiment.router import Explanation, TokenValue
from streams.sentiment.vader import POSITIVE_AT, label_for  # the same thresholds for every language

ASENT_VERSION = "0.8.3"
RULES_VERSION = 1

#: VADER's normalisation constant: compound = sum / sqrt(sum^2 + ALPHA)
ALPHA = 15.0
EXCLAMATION_STEP = 0.292
QUESTION_STEP = 0.18

#: a run of capitals; without one no word in the text is written in capitals (a fast path past that rule)
_CAPITALS = re.compile(r"[^\W\d_a-zæøåäöüé]{2}")
#: sentence ends: a run of ".", "!", "?", "…" or a new line
_ENDS = frozenset(".!?…\n")


def token_pattern(lexicon_keys: list[str]) -> re.Pattern[str]:
    """Words (with "ik'", "don't"), numbers with separators ("14.30", "3,5"), sentence ends, and the lexicon's
    emoticons and emoji; any other punctuation is skipped. token_pattern([":)", "😀"]).findall("Godt :) 😀!") ->
    ["Godt", ":)", "😀", "!"]."""
    symbols = [k for k in lexicon_keys if k and not (k[0].isalnum() or k[0] == "_") and " " not in k]
    sequences = sorted((k for k in symbols if len(k) > 1), key=len, reverse=True)
    singles = "".join(sorted({re.escape(k) for k in symbols if len(k) == 1}))
    alternatives = [r"\d+(?:[.,:]\d+)+", r"\w+(?:['’]\w+)*'?", r"[.!?…]+|\n"]
    if sequences:
        # the lookahead on their first characters spares every other position trying each sequence in turn
        first = "".join(sorted({re.escape(k[0]) for k in sequences}))
        alternatives.append(f"(?=[{first}])(?:{'|'.join(re.escape(k) for k in sequences)})")
    if singles:
        alternatives.append(f"[{singles}]")
    # matching the blanks before a token (not a new line) inside the pattern is faster than finding where the
    # next token starts by trying every alternative at every blank
    return re.compile(r"[^\S\n]*(" + "|".join(alternatives) + ")")


@dataclass(frozen=True)
class LanguageRules:
    negations: frozenset[str]
    intensifiers: dict[str, float]
    contrast: frozenset[str]


RULES = {
    "da": LanguageRules(DANISH_NEGATIONS, DANISH_INTENSIFIERS, DANISH_CONTRAST),
    "no": LanguageRules(NORWEGIAN_NEGATIONS, NORWEGIAN_INTENSIFIERS, NORWEGIAN_CONTRAST),
    "sv": LanguageRules(SWEDISH_NEGATIONS, SWEDISH_INTENSIFIERS, SWEDISH_CONTRAST),
}


def model_name(language: str) -> str:
    """ "da" -> "asent-da-0.8.3+lytte-1": asent's lexicons and rules of that version, lytte's port revision."""
    return f"asent-{language}-{ASENT_VERSION}+lytte-{RULES_VERSION}"


def confidence_for(compound: float, valenced_words: int) -> float:
    """0.5 -> 1.0; -0.275 -> 0.75; 0.05 -> 0.5; 0.0 with no lexicon word -> 0.6; 0.01 with some -> 0.4."""
    if label_for(compound) != "neutral":
        return round(0.5 + 0.5 * min(1.0, (abs(compound) - POSITIVE_AT) / (0.5 - POSITIVE_AT)), 4)
    return 0.6 if valenced_words == 0 else 0.4


def normalize(total: float) -> float:
    """VADER's squashing: 4.0 -> 0.718; -2.0 -> -0.459; 0.0 -> 0.0; always within -1..1."""
    return max(-1.0, min(1.0, total / math.sqrt(total * total + ALPHA)))


def punctuation_emphasis(sentence: str) -> float:
    """ "Godt!!" -> 0.584; "Hvorfor??" -> 0.36; "Hvad????" -> 0.96; "Ok." -> 0.0."""
    exclamations = min(sentence.count("!"), 4) * EXCLAMATION_STEP
    questions = sentence.count("?")
    if questions <= 1:
        return exclamations
    return exclamations + (questions * QUESTION_STEP if questions <= 3 else 0.96)


def contrasted(token: TokenValue, before: bool, word: str) -> TokenValue:
    """A traced token's value on its side of the contrast word: "god" (3.0) before "men" -> 1.5, rule
    "contrast:before men"; after it -> 4.5, "contrast:after men"."""
    factor, side = (BEFORE_CONTRAST, "before") if before else (AFTER_CONTRAST, "after")
    return TokenValue(token.token, token.lexicon, token.value * factor, (*token.rules, f"contrast:{side} {word}"))


@dataclass
class _Totals:
    """The post's running sums over its sentences (VADER's shares: a valenced word counts |value| + 1)."""

    compound: float = 0.0
    sentences: int = 0
    pos: float = 0.0
    neg: float = 0.0
    neu: float = 0.0
    valenced: int = 0


class NordicScorer:
    """One language's scorer; `score` for the worker, `explain` for `lytte score --explain`."""

    def __init__(self, language: str) -> None:
        if language not in RULES:
            raise ValueError(f"no Nordic scorer for {language!r}")
        self.language = language
        self.model = model_name(language)
        self._rules = RULES[language]
        self._lexicon: Lexicon = lexicon_for(language)
        self._tokens = token_pattern(list(self._lexicon.words))
        #: a post with none of these words has no valence at all (most posts): it is neutral without more work
        self._candidates = frozenset(self._lexicon.words) | frozenset(self._lexicon.phrases)
        self._neutral = Sentiment(
            compound=0.0, pos=0.0, neu=1.0, neg=0.0, label="neutral", model=self.model, confidence=0.6
        )

    def score(self, text: str) -> Sentiment:
        """Scenario (da): "Flyet var forsinket igen, elendig service" -> negative; "Tak, det var en rigtig god
        tur" -> positive; "Flyet lander kl. 14" -> neutral, confidence 0.6."""
        return self._analyse(text, None, None)

    def explain(self, text: str) -> Explanation:
        """Scenario (no): "Maten var ikke god" -> one token "god", lexicon 3, value -2.22, rules ("negation:ikke",);
        "Bra personale, men dårleg mat" -> "dårleg" read as "dårlig", x1.5 after "men"."""
        tokens: list[TokenValue] = []
        rules: list[str] = []
        sentiment = self._analyse(text, tokens, rules)
        return Explanation(sentiment=sentiment, tokens=tuple(tokens), rules=tuple(rules))

    def _analyse(self, text: str, trace: list[TokenValue] | None, rules: list[str] | None) -> Sentiment:
        lowers = self._tokens.findall(text.lower())
        if self._candidates.isdisjoint(lowers):
            return self._neutral
        originals = lowers
        if trace is not None or _CAPITALS.search(text):
            originals = self._tokens.findall(text)
            if len(originals) != len(lowers):  # lower-casing changed the tokens (rare letters): no capitals rule
                originals = lowers
        totals = _Totals()
        start = 0
        for i, word in enumerate(lowers):
            if word[0] in _ENDS:
                if i > start:
                    self._sentence(lowers[start:i], originals[start:i], word, totals, trace, rules)
                start = i + 1
        if start < len(lowers):
            self._sentence(lowers[start:], originals[start:], "", totals, trace, rules)
        if rules is not None and totals.sentences > 1:
            rules.append(f"{totals.sentences} sentences: the compound is their mean")
        compound = round(totals.compound / totals.sentences, 4) if totals.sentences else 0.0
        total = totals.pos + totals.neg + totals.neu
        pos, neu, neg = (totals.pos / total, totals.neu / total, totals.neg / total) if total else (0.0, 1.0, 0.0)
        return Sentiment(
            compound=compound,
            pos=round(pos, 3),
            neu=round(neu, 3),
            neg=round(neg, 3),
            label=label_for(compound),
            model=self.model,
            confidence=confidence_for(compound, totals.valenced),
        )

    def _sentence(
        self,
        lowers: list[str],
        originals: list[str],
        ending: str,
        totals: _Totals,
        trace: list[TokenValue] | None,
        rules: list[str] | None,
    ) -> None:
        """Scores one sentence's tokens (`ending` is its closing punctuation, "" for none) into `totals`."""
        intensifiers = self._rules.intensifiers
        negations = self._rules.negations
        phrases = self._lexicon.phrases
        words = self._lexicon.words
        respelled = self._lexicon.respelled
        candidates = self._candidates
        capitals = originals is not lowers and 0 < sum(1 for t in originals if t.isupper()) < len(originals)
        values: list[tuple[int, float]] = []
        traced: list[tuple[int, TokenValue]] = []
        skip_to = 0
        for i in [i for i, w in enumerate(lowers) if w in candidates]:
            word = lowers[i]
            if i < skip_to or word in intensifiers:
                continue
            if word in phrases:
                phrase = self._lexicon.phrase_at(lowers, i)
                if phrase is not None:
                    word = " ".join(phrase)
                    skip_to = i + len(phrase)
            base = words.get(word)
            if not base:
                continue
            value = base
            applied: list[str] = [f"nynorsk:{word}->{respelled[word]}"] if word in respelled else []
            if capitals and originals[i].isupper():
                value += C_INCR if value > 0 else -C_INCR
                applied.append("capitals")
            for distance, weight in enumerate(LOOKBACK_WEIGHTS, start=1):
                j = i - distance
                if j < 0:
                    break
                boost = intensifiers.get(lowers[j], 0.0)
                if boost:
                    scalar = boost if value > 0 else -boost
                    if capitals and originals[j].isupper():
                        scalar += C_INCR if value > 0 else -C_INCR
                    value += scalar * weight
                    applied.append(f"{'intensifier' if boost > 0 else 'dampener'}:{lowers[j]}")
            for negation in lowers[max(0, i - len(LOOKBACK_WEIGHTS)) : i]:
                if negation in negations:
                    value *= N_SCALAR
                    applied.append(f"negation:{negation}")
                    break
            values.append((i, value))
            if trace is not None:
                shown = " ".join(originals[i:skip_to]) if skip_to > i else originals[i]
                traced.append((i, TokenValue(token=shown, lexicon=base, value=value, rules=tuple(applied))))
        if not values:
            totals.sentences += 1
            totals.neu += len(lowers)
            return
        contrast_at = next((i for i, w in enumerate(lowers) if w in self._rules.contrast), None)
        if contrast_at is not None:
            values = [(i, v * (BEFORE_CONTRAST if i < contrast_at else AFTER_CONTRAST)) for i, v in values]
            if trace is not None and rules is not None:
                contrast = lowers[contrast_at]
                rules.append(f"contrast:{contrast} (before x{BEFORE_CONTRAST}, after x{AFTER_CONTRAST})")
                traced = [(i, contrasted(t, i < contrast_at, contrast)) for i, t in traced]
        if trace is not None:
            trace.extend(t for _, t in traced)
        total = sum(v for _, v in values)
        emphasis = punctuation_emphasis(ending) if total else 0.0
        if emphasis:
            total += emphasis if total > 0 else -emphasis
            if rules is not None:
                rules.append(f"punctuation:{'+' if total > 0 else '-'}{emphasis:.3f}")
        pos = sum(v + 1 for _, v in values if v > 0)
        neg = sum(1 - v for _, v in values if v < 0)
        if pos > neg:
            pos += emphasis
        elif neg > pos:
            neg += emphasis
        totals.compound += normalize(total)
        totals.sentences += 1
        totals.pos += pos
        totals.neg += neg
        totals.neu += len(lowers) - len(values)
        totals.valenced += len(values)
