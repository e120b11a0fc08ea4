"""`lytte score`: one line per post, matched or not, and with --explain the values and rules behind its score."""

from __future__ import annotations

import subprocess
import sys

import orjson

from tests.fixtures.factories import REPO


def score(*args: str, stdin: str) -> tuple[list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "score", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_every_post_is_printed_matched_or_not(post_factory):
    post = post_factory("Skyline lost my bag, worst trip ever @nordair")
    records, stderr = score(stdin=f"I love flying Nordair!\nnothing to see here\n{post.model_dump_json()}\n")
    assert [r["line"] for r in records] == [1, 2, 3]
    assert [[b["brand"] for b in r["brands"]] for r in records] == [["nordair"], [], ["nordair", "skyline"]]
    assert [r["sentiment"]["label"] for r in records] == ["positive", "neutral", "negative"]
    assert records[1]["post"]["text"] == "nothing to see here" and records[1]["language"] == "en"
    assert records[2]["post"]["source_id"] == post.source_id
    assert records[2]["brands"][1] == {
        "brand": "skyline",
        "brand_role": "competitor",
        "matched_terms": ["skyline"],
        "keywords": records[2]["brands"][1]["keywords"],
    }
    assert "explanation" not in records[0]
    assert "line 2: matches no watched brand" in stderr


def test_key_people_are_kept():
    records, _ = score(stdin="@nordair cc @ingrid_newſ number 1\n")
    assert records[0]["key_people"][0]["handle"] == "ingrid_news"


def test_explain_gives_each_tokens_values_and_the_rules():
    records, _ = score("--explain", stdin="Nordair food was not very good\nthe weather is lovely\n")
    tokens = {t["token"]: t for t in records[0]["explanation"]["tokens"]}
    assert tokens["good"]["lexicon"] == 1.9
    assert tokens["good"]["value"] < 0
    assert tokens["good"]["rules"] == ["negation", "intensifier"]
    # an unmatched post is explained too
    assert records[1]["brands"] == []
    assert [t["token"] for t in records[1]["explanation"]["tokens"]] == ["lovely"]


def test_a_language_without_a_scorer_is_explained_as_unscored(post_factory):
    post = post_factory("Der Flug war leider spät", language="de")
    records, _ = score("--explain", stdin=post.model_dump_json() + "\n")
    assert records[0]["sentiment"]["scored"] is False
    assert records[0]["explanation"] == {"rules": ["unscored language"], "tokens": []}


def test_a_rejected_line_is_reported_and_the_rest_go_on():
    records, stderr = score(stdin='{"source": "myspace"}\nI love flying Nordair!\n')
    assert "line 1: rejected: " in stderr
    assert [r["line"] for r in records] == [2]
