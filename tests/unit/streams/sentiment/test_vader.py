"""LinearVader gives VADER's scores to the digit, in time that grows linearly with the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.sentiment.vader import LinearVader

ORIGINAL, LINEAR = SentimentIntensityAnalyzer(), LinearVader()
# words that drive the checks LinearVader rewrites: negations, idioms, boosters, "least", emoji
VOCABULARY = [
    "not",
    "never",
    "no",
    "without",
    "doubt",
    "so",
    "this",
    "kind",
    "of",
    "sort",
    "the",
    "bomb",
    "yeah",
    "right",
    "cut",
    "me",
    "some",
    "slack",
    "at",
    "least",
    "very",
    "good",
    "bad",
    "great",
    "terrible",
    "love",
    "hate",
    "delayed",
    "lost",
    "GREAT",
    "BAD",
    "!",
    "?",
    "but",
    "😀",
    "😊",
    "😡",
    ":)",
    ":(",
    "isn't",
    "won't",
    "nor",
    "or",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=30))
def test_scores_equal_the_original(words):
    text = " ".join(words)
    assert LINEAR.polarity_scores(text) == ORIGINAL.polarity_scores(text)


def test_the_checks_read_a_window_not_the_whole_text(monkeypatch):
    """The original re-reads every word for every sentiment word (minutes for 25,000 emoji); the checks
    LinearVader calls must see at most six words, whatever the length of the text."""
    seen = []
    for name in ("_negation_check", "_special_idioms_check"):
        original = getattr(SentimentIntensityAnalyzer, name)

        def spy(valence, words, *rest, _original=original):
            seen.append(len(words))
            return _original(valence, words, *rest)

        monkeypatch.setattr(SentimentIntensityAnalyzer, name, staticmethod(spy))
    LinearVader().polarity_scores("not so good 😀 " * 2_000)
    assert seen and max(seen) <= 6
