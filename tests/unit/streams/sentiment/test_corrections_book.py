"""Each brand's corrections as examples for its adjustment, and the scorer that uses the adjustment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alerts import Action, SentimentCorrection
from schemas.records import Author, Evidence, Post
from streams.core.scoring import Scorer
from streams.sentiment import adjust
from streams.sentiment.corrections_book import CorrectionsBook

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def correct(post_id: str, label: str, minute: int = 0, brand: str = "nordair", text: str | None = "txt") -> Action:
    return Action(
        id=f"a-{post_id}-{minute}",
        kind="correct_sentiment",
        at=AT + timedelta(minutes=minute),
        by="ana",
        brand=brand,
        correction=SentimentCorrection(
            post_id=post_id,
            brand=brand,
            created_at=AT,
            old_label="positive",
            new_label=label,
            language="en",
            text=f"{text} {post_id}" if text else None,
        ),
    )


def test_the_docstring_scenario():
    book = CorrectionsBook()
    assert [book.add(correct("x:1", "negative", 0)), book.add(correct("x:2", "neutral", 1))] == ["nordair"] * 2
    assert book.add(correct("x:1", "positive", 2)) == "nordair"
    assert [(t.text, t.label) for t in book.examples("nordair")] == [("txt x:2", "neutral"), ("txt x:1", "positive")]
    assert book.add(correct("x:1", "negative", 0)) is None, "an older correction read again changes nothing"
    assert book.add(Action(id="a", kind="ack", at=AT, by="ana", brand="nordair", fingerprint="f")) is None
    assert book.add(correct("x:3", "negative", 3, text=None)) is None, "without its text it teaches nothing"
    assert book.brands() == ["nordair"] and book.examples("skyline") == []


def test_a_brand_keeps_its_newest_corrections():
    book = CorrectionsBook(kept=3)
    for minute in range(5):
        book.add(correct(f"x:{minute}", "negative", minute))
    assert [t.text for t in book.examples("nordair")] == ["txt x:2", "txt x:3", "txt x:4"]


def post(text: str) -> Post:
    return Post(source="x", source_id="1", created_at=AT, text=text, author=Author(id="7", handle="someone"))


def test_the_scorer_adjusts_only_the_brand_that_was_taught(watch_config):
    scorer = Scorer(watch_config)
    evidence = Evidence(raw_partition=0, raw_offset=0, raw_timestamp_ms=0)
    text = "Nordair and Skyline: what a lovely flight"
    before = {s.brand: s.sentiment for s in scorer.score(post(text), evidence)}
    assert before["nordair"].label == before["skyline"].label == "positive"

    book = CorrectionsBook()
    for i in range(adjust.MIN_CORRECTIONS):  # nordair's people read "lovely" as sarcasm
        book.add(correct(f"x:{i}", "negative", i, text=f"@nordair a lovely flight number {i}"))
    trained = adjust.train(scorer.base_examples(book.examples("nordair")), "nordair")
    scorer.set_adjustment(trained)
    after = {s.brand: s.sentiment for s in scorer.score(post(text), evidence)}
    assert after["nordair"].label == "negative"
    assert after["nordair"].model == f"{before['nordair'].model}+adjust-{adjust.MIN_CORRECTIONS}"
    assert after["skyline"] == before["skyline"]

    scorer.set_adjustment(adjust.Adjustment(brand="nordair", corrections=3, applied=False))
    assert {s.brand: s.sentiment for s in scorer.score(post(text), evidence)} == before
