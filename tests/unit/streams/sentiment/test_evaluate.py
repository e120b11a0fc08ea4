"""`lytte sentiment eval`: labelled files in the three shapes, the measures, the command, and the English
scorer's figures on the public airline tweets (read where they lie, never copied)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from streams.sentiment.english import EnglishScorer
from streams.sentiment.evaluate import (
    EvaluationError,
    Example,
    accuracy,
    confusion,
    evaluate,
    macro_f1,
    pearson_r,
    read_examples,
    recall,
)
from streams.sentiment.router import SentimentRouter
from tests.fixtures.factories import REPO, SHARED_DATA

AIRLINE = SHARED_DATA / "airline" / "Tweets.csv"
ENGLISH = SentimentRouter({"en": EnglishScorer()})


# -- reading ---------------------------------------------------------------------------------------------------


def test_reads_csv_with_other_field_names_and_labels_in_any_case(tmp_path):
    path = tmp_path / "tweets.csv"
    path.write_text('tweet,airline_sentiment\n"late again,\nand again",NEGATIVE\nnice crew,Positive\n')
    examples = read_examples(path, text_field="tweet", label_field="airline_sentiment")
    assert examples == [Example("late again,\nand again", "negative"), Example("nice crew", "positive")]


def test_reads_a_json_list_as_norec_writes_it(tmp_path):
    path = tmp_path / "dev.json"
    rows = [
        {"sent_id": "1", "text": "Flott film", "label": "Positive"},
        {"sent_id": "2", "text": "Ok", "label": "Neutral"},
    ]
    path.write_text(json.dumps(rows))
    assert read_examples(path) == [Example("Flott film", "positive"), Example("Ok", "neutral")]


def test_reads_json_lines_with_valences_as_three_classes_by_the_sign(tmp_path):
    path = tmp_path / "lcc.jsonl"
    lines = [{"text": "godt", "valence": 3}, {"text": "skidt", "valence": -2.5}, {"text": "bordet", "valence": 0}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert read_examples(path, valence_field="valence") == [
        Example("godt", "positive", 3.0),
        Example("skidt", "negative", -2.5),
        Example("bordet", "neutral", 0.0),
    ]


def test_a_line_separator_inside_a_json_string_is_not_a_new_record(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps({"text": "one\u2028two", "label": "neutral"}, ensure_ascii=False) + "\n")
    assert read_examples(path) == [Example("one\u2028two", "neutral")]


@pytest.mark.parametrize(
    ("content", "fields", "message"),
    [
        ("text,label\n,positive\n", {}, "row 1: no text in field 'text'"),
        ("text,label\ngood,mixed\n", {}, "row 1: label 'mixed' in field 'label' is not positive, neutral or negative"),
        ("text,label\ngood,positive\n", {"label_field": "sentiment"}, "row 1: label None in field 'sentiment'"),
        ("text,valence\ngood,lots\n", {"valence_field": "valence"}, "row 1: no number in field 'valence'"),
        ("text,valence\ngood,nan\n", {"valence_field": "valence"}, "row 1: valence nan"),
        ("text,label\n", {}, "no rows"),
        ('{"text": "a", "label": "positive"\n', {}, "not JSON"),
        ("[1, 2]", {}, "row 1: not an object"),
    ],
)
def test_a_file_that_cannot_be_evaluated_says_where(tmp_path, content, fields, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_examples(path, **fields)


# -- measures --------------------------------------------------------------------------------------------------


def test_measures_on_a_small_table():
    gold = ["negative", "negative", "negative", "negative", "neutral", "positive"]
    scored = ["negative", "negative", "negative", "positive", "neutral", "neutral"]
    table = confusion(gold, scored)
    assert table["negative"] == {"negative": 3, "neutral": 0, "positive": 1}
    assert accuracy(table) == pytest.approx(4 / 6)
    assert recall(table) == {"negative": 0.75, "neutral": 1.0, "positive": 0.0}
    # F1: negative 6/7, neutral 2/3, positive 0
    assert macro_f1(table) == pytest.approx((6 / 7 + 2 / 3 + 0) / 3)


def test_macro_f1_counts_a_class_never_labelled_nor_scored_as_zero():
    table = confusion(["negative", "negative"], ["negative", "negative"])
    assert macro_f1(table) == pytest.approx(1 / 3)
    assert recall(table)["positive"] == 0.0


def test_pearson_r():
    assert pearson_r([1, 2, 3], [2, 4, 7]) == pytest.approx(0.9934, abs=1e-4)
    assert pearson_r([0, 0], [1, 2]) is None
    assert pearson_r([1], [1]) is None


def test_evaluate_scores_through_the_router_and_times_both_scorers():
    examples = [
        Example("I love this airline", "positive", 2.0),
        Example("thanks for the 3 hour delay", "negative", -3.0),
        Example("The meeting is at three.", "neutral", 0.0),
        Example("still waiting for my refund", "negative", -2.0),
    ]
    report = evaluate(examples, "en", ENGLISH)
    assert (report.n, report.accuracy, report.macro_f1) == (4, 1.0, 1.0)
    assert report.recall == {"negative": 1.0, "neutral": 1.0, "positive": 1.0}
    assert report.pearson_r > 0.8
    assert report.model == "vader-3.3.2+complaints-1"
    assert report.posts_per_s > 0 and report.vader_posts_per_s > 0
    assert set(report.as_json()) >= {"n", "accuracy", "macro_f1", "recall", "pearson_r", "posts_per_s"}


def test_a_language_without_a_scorer_is_measured_as_unscored():
    report = evaluate([Example("Der Flug war spät", "negative")], "de", ENGLISH)
    assert report.model == "unscored"
    assert report.confusion["negative"]["neutral"] == 1


# -- the command -------------------------------------------------------------------------------------------------


def lytte(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_the_command_prints_the_figures_and_json(tmp_path):
    path = tmp_path / "labelled.csv"
    path.write_text("text,label\nI love this,positive\nworst trip ever,negative\nThe bus leaves at nine.,neutral\n")
    text = lytte("sentiment", "eval", str(path), "--lang", "en")
    assert text.returncode == 0, text.stderr
    assert "3 posts, language en" in text.stdout
    assert "accuracy   1.000" in text.stdout and "posts/s" in text.stdout and "raw VADER" in text.stdout
    result = lytte("sentiment", "eval", str(path), "--lang", "en", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert (figures["n"], figures["accuracy"], figures["pearson_r"]) == (3, 1.0, None)
    assert figures["recall"] == {"negative": 1.0, "neutral": 1.0, "positive": 1.0}


def test_the_command_reports_a_bad_file_in_one_line(tmp_path):
    path = tmp_path / "labelled.csv"
    path.write_text("text,label\ngood,great\n")
    result = lytte("sentiment", "eval", str(path), "--lang", "en")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"lytte: sentiment eval: {path}: row 1: label 'great' in field 'label' is not positive, neutral or negative"
    ]


# -- the airline tweets ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not AIRLINE.exists(), reason=f"{AIRLINE} is absent (CC BY-NC-SA: read in place, never copied)")
def test_english_scorer_meets_the_goals_on_the_airline_tweets():
    """Issue 11's goals: 3-class accuracy >= 0.70 and negative recall >= 0.75 (raw VADER: 0.490 and 0.439),
    without halving VADER's throughput."""
    examples = read_examples(AIRLINE, label_field="airline_sentiment")
    assert len(examples) == 14_640
    report = evaluate(examples, "en", ENGLISH)
    assert report.accuracy >= 0.70, report
    assert report.recall["negative"] >= 0.75, report
    assert report.macro_f1 >= 0.60, report
    assert report.posts_per_s >= 0.5 * report.vader_posts_per_s, report
