import csv
import json
from pathlib import Path

import pytest

from streams.cli import main
from streams.sentiment.curve import learning_curve, parse_ns, read_labelled
from streams.sentiment.evaluate import EvaluationError
from tests.fixtures.factories import AIRLINE_TWEETS

THINGS = ["seat", "meal", "lounge", "app", "bag drop", "crew", "gate", "upgrade"]


def write_labelled(path: Path, per_brand: int = 300) -> Path:
    """Two brands whose posts say "zorbled" for a failure: the base scorer does not know the word (neutral),
    their people label those posts negative. Praise and notices the base reads right."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["tweet", "sentiment", "airline"])
        writer.writeheader()
        for brand in ("nordair", "skyways"):
            for i in range(per_brand):
                thing = THINGS[i % len(THINGS)]
                text, label = [
                    (f"the {thing} was zorbled again {i}", "Negative"),
                    (f"really great {thing} today {i}", "positive"),
                    (f"{thing} info at gate {i}", "NEUTRAL"),
                ][i % 3]
                writer.writerow({"tweet": text, "sentiment": label, "airline": brand})
    return path


def test_corrections_teach_a_brand_its_own_word(tmp_path):
    posts = read_labelled(write_labelled(tmp_path / "labelled.csv"), "tweet", "sentiment", "airline")
    assert len(posts) == 600 and posts[0].label == "negative" and posts[0].brand == "nordair"
    curve = learning_curve(posts, "en", [30, 100, 300], repeats=2, seed=7)
    (at_30, at_100) = curve.overall
    assert (at_30.n, at_30.scored, at_30.brands) == (30, 540, ("nordair", "skyways"))
    assert at_30.base_accuracy == pytest.approx(2 / 3, abs=0.03)
    assert at_100.adjusted_accuracy > 0.95 and at_100.adjusted_macro_f1 > 0.95
    assert at_100.adjusted_accuracy >= at_30.adjusted_accuracy > at_30.base_accuracy
    # 300 corrections leave nothing of a brand of 300 to score: no point for it
    assert [p.n for p in curve.by_brand["nordair"]] == [30, 100]
    assert curve.brand_posts == {"nordair": 300, "skyways": 300}
    again = learning_curve(posts, "en", [30, 100, 300], repeats=2, seed=7)
    assert again.overall == curve.overall and again.by_brand == curve.by_brand


def test_the_command_prints_the_curve_as_json_and_as_text(tmp_path, capsys):
    path = write_labelled(tmp_path / "labelled.csv", per_brand=150)
    args = ["sentiment", "curve", str(path), "--lang", "en", "--text-field", "tweet", "--label-field", "sentiment"]
    main([*args, "--brand-field", "airline", "--n", "60", "--repeats", "1", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["posts"] == 300 and doc["repeats"] == 1 and doc["seed"] == 1
    (point,) = doc["overall"]
    assert point["n"] == 60 and point["scored"] == 180
    assert point["adjusted_accuracy"] > point["base_accuracy"]
    assert set(doc["brands"]) == {"nordair", "skyways"} and doc["brands"]["nordair"]["posts"] == 150
    main([*args, "--brand-field", "airline", "--n", "60", "--repeats", "1"])
    text = capsys.readouterr().out
    assert "300 posts, 2 brands" in text and "nordair" in text and "accuracy base -> adjusted" in text
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--brand-field", "nope"])
    assert exit_info.value.code == 2
    assert "no brand in field 'nope'" in capsys.readouterr().err


def test_n_values_must_be_positive_whole_numbers():
    with pytest.raises(ValueError, match="positive whole numbers"):
        parse_ns("100,ten")
    with pytest.raises(ValueError, match="positive whole numbers"):
        parse_ns("0")
    assert parse_ns("100, 300,1000") == [100, 300, 1000]


def test_a_row_with_a_label_outside_the_classes_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "fine", "label": "positive", "brand": "a"}\n{"text": "meh", "label": "mixed", "brand": "a"}\n'
    )
    with pytest.raises(EvaluationError, match="row 2: label 'mixed'"):
        read_labelled(path, "text", "label", "brand")


@pytest.mark.skipif(not AIRLINE_TWEETS.exists(), reason=f"the airline tweets are not at {AIRLINE_TWEETS}")
def test_corrections_raise_accuracy_on_the_airline_tweets():
    """A quick check on every fifth tweet (measurement only: CC BY-NC-SA, nothing kept)."""
    posts = read_labelled(AIRLINE_TWEETS, "text", "airline_sentiment", "airline")[::5]
    curve = learning_curve(posts, "en", [200], repeats=1, seed=1)
    (point,) = curve.overall
    assert 0.6 < point.base_accuracy < 0.8  # the English scorer's ~0.70
    assert point.adjusted_accuracy > point.base_accuracy
