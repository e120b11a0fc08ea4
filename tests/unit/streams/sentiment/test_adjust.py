import timeit

import numpy as np
import pytest

from schemas.records import Sentiment
from streams.sentiment import adjust
from streams.sentiment.adjust import MIN_CORRECTIONS, Adjustment, Example, adjust_all, train, word_features
from streams.sentiment.router import UNSCORED, SentimentRouter

POSITIVE = Sentiment(compound=0.6, pos=0.4, neu=0.6, neg=0.0, label="positive", model="base-1")
NEUTRAL = Sentiment(compound=0.0, pos=0.0, neu=1.0, neg=0.0, label="neutral", model="base-1")
NEGATIVE = Sentiment(compound=-0.6, pos=0.0, neu=0.6, neg=0.4, label="negative", model="base-1")
THINGS = ["the wait", "the delay", "losing my bag", "the two hours on hold", "the cold food", "the missed connection"]


def sarcasm_corrections(n_each: int = 20) -> list[Example]:
    """A brand whose people thank sarcastically: the base reads "thanks for <harm>" as positive, the operators
    say negative; they confirm ordinary praise as positive and notices as neutral."""
    out = []
    for i in range(n_each):
        out.append(Example(f"@nordair thanks for {THINGS[i % len(THINGS)]} today {i}", POSITIVE, "negative"))
        out.append(Example(f"lovely crew and a smooth landing {i}", POSITIVE, "positive"))
        out.append(Example(f"boarding starts at gate {i}", NEUTRAL, "neutral"))
    return out


def test_word_features_are_unit_length_and_the_same_in_every_call():
    found = word_features("Late again, LATE again")
    assert found == word_features("late again late again")
    assert all(column >= adjust.BASE_FEATURES for column, _ in found)
    # 4 words + 3 pairs, each 1/sqrt(7); "late" and "again" twice, "late again" twice: the squares sum to 1
    assert sum(v * v for _, v in found) == pytest.approx((2**2 + 2**2 + 2**2 + 1) / 7)
    assert word_features("") == [] and word_features("!!! ...") == []


def test_too_few_corrections_leave_the_base_sentiment_as_it_is():
    adjustment = train(sarcasm_corrections()[: MIN_CORRECTIONS - 1], "nordair")
    assert not adjustment.applied and adjustment.corrections == MIN_CORRECTIONS - 1
    assert adjustment.adjust("thanks for the wait", POSITIVE) is POSITIVE
    assert adjustment.probabilities("thanks for the wait", POSITIVE) == {
        "negative": 0.0,
        "neutral": 0.0,
        "positive": 1.0,
    }


def test_a_pattern_in_the_corrections_moves_the_label_and_nothing_else():
    adjustment = train(sarcasm_corrections(), "nordair")
    assert adjustment.applied and adjustment.corrections == 60
    sarcastic = adjustment.adjust("thanks for the delay again", POSITIVE)
    assert sarcastic.label == "negative"
    assert sarcastic.model == "base-1+adjust-60" and 0.5 < sarcastic.confidence <= 1
    assert (sarcastic.compound, sarcastic.pos, sarcastic.neg) == (POSITIVE.compound, POSITIVE.pos, POSITIVE.neg)
    assert adjustment.adjust("lovely crew", POSITIVE).label == "positive"
    assert adjustment.adjust("boarding at gate 9", NEUTRAL).label == "neutral"
    # words it has never seen keep the base label: it is regularised towards the base scorer
    for base in (POSITIVE, NEUTRAL, NEGATIVE):
        assert adjustment.adjust("zyx qwv", base).label == base.label


def test_confirmations_alone_change_no_label():
    confirmed = [Example(f"post number {i}", b, b.label) for i, b in enumerate([POSITIVE, NEUTRAL, NEGATIVE] * 10)]
    adjustment = train(confirmed, "nordair")
    assert adjustment.applied
    texts = ["thanks for the wait", "post number 4", "anything at all"]
    for base in (POSITIVE, NEUTRAL, NEGATIVE):
        assert {adjustment.adjust(t, base).label for t in texts} == {base.label}


def test_an_unscored_post_stays_unscored():
    adjustment = train(sarcasm_corrections(), "nordair")
    assert adjustment.adjust("thanks for the wait", UNSCORED) is UNSCORED
    unusable = [Example("x", UNSCORED, "negative")] * 50 + [Example("y", POSITIVE, "mixed")] * 50
    assert not train(unusable, "nordair").applied


def test_the_same_corrections_give_the_same_model_and_the_batch_path_agrees():
    corrections = sarcasm_corrections()
    first, again = train(corrections, "nordair"), train(corrections, "nordair")
    assert first.columns == again.columns
    shuffled = train(corrections[::-1], "nordair")
    assert np.allclose(np.asarray(first.columns), np.asarray(shuffled.columns), atol=1e-9)
    texts = ["thanks for the delay", "lovely crew", "gate 7", "thanks for the upgrade", "zyx", "worst day"]
    bases = [POSITIVE, POSITIVE, NEUTRAL, POSITIVE, NEGATIVE, NEGATIVE]
    assert adjust_all(first, texts, bases) == [first.adjust(t, b).label for t, b in zip(texts, bases, strict=True)]
    not_applied = Adjustment(brand="nordair", corrections=3, applied=False)
    assert adjust_all(not_applied, texts, bases) == [b.label for b in bases]


def test_training_converges_to_the_penalised_optimum():
    corrections = sarcasm_corrections()
    rows = [adjust.features(e.text, e.base) for e in corrections]
    labels = [adjust.CLASSES.index(e.label) for e in corrections]
    weights = adjust.fit_weights(rows, labels)
    x = adjust._Sparse(rows)
    y = np.zeros((len(rows), 3))
    y[np.arange(len(rows)), labels] = 1
    gradient = x.transposed_times(adjust._softmax(x.times(weights)) - y) + adjust.L2 * (
        weights - adjust.prior_weights()
    )
    assert np.abs(gradient).max() < 1e-4
    assert np.array_equal(adjust.fit_weights([], []), adjust.prior_weights())


def test_it_costs_well_under_the_base_scorer_per_post():
    scorer = SentimentRouter.default().scorer("en")
    text = "@nordair thanks for the 3 hour delay, still waiting on the tarmac and nobody tells us anything #fail"
    base = scorer.score(text)
    adjustment = train(sarcasm_corrections(), "nordair")
    # best of five: the machine is shared, the fastest run is the one least disturbed
    adjusted = min(timeit.repeat(lambda: adjustment.adjust(text, base), number=300, repeat=5))
    scored = min(timeit.repeat(lambda: scorer.score(text), number=300, repeat=5))
    assert adjusted < 0.5 * scored, (adjusted, scored)
