"""The `lytte` command as an operator uses it: scoring without a broker, one-line configuration errors."""

import subprocess
import sys

import orjson

from tests.fixtures.factories import REPO


def lytte(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )


def test_score_reads_plain_text_and_posts(post_factory):
    post = post_factory("Skyline lost my bag, worst trip ever @nordair")
    result = lytte("score", stdin=f"I love flying Nordair!\nnothing to see here\n{post.model_dump_json()}\n")
    assert result.returncode == 0, result.stderr
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [(r["brand"], r["sentiment"]["label"]) for r in records] == [
        ("nordair", "positive"),
        ("nordair", "negative"),
        ("skyline", "negative"),
    ]
    assert records[1]["post"]["source_id"] == post.source_id
    assert "line 2: matches no watched brand" in result.stderr


def test_score_reports_rejected_lines():
    result = lytte("score", stdin='{"source": "myspace"}\n')
    assert result.returncode == 0
    assert "line 1: rejected: " in result.stderr


def test_score_goes_on_after_a_line_that_used_to_crash_it():
    result = lytte("score", stdin="@nordair cc @ingrid_newſ number 1\nI love flying Nordair!\n")
    assert result.returncode == 0, result.stderr
    brands = [orjson.loads(line)["brand"] for line in result.stdout.splitlines()]
    assert brands == ["nordair", "nordair"]
    assert orjson.loads(result.stdout.splitlines()[0])["key_people"][0]["handle"] == "ingrid_news"


def test_score_reports_a_line_whose_handling_fails_and_goes_on(tmp_path):
    # a plain-text line over the Post text limit cannot become a Post: the error is reported, not raised
    result = lytte("score", stdin="x" * 25_001 + "\nI love flying Nordair!\n")
    assert result.returncode == 0, result.stderr
    assert "line 1: handling failed: ValidationError:" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_bad_watch_config_fails_start_up_with_one_line(tmp_path):
    bad = tmp_path / "watch.yaml"
    bad.write_text("brands:\n  - id: a\n    name: A\n    handles: [7]\n")
    for command in (["worker", "--config", str(bad)], ["score", "--config", str(bad)]):
        result = lytte(*command)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"lytte: {bad}:4: brands.0.handles.0: Input should be a valid string"
        ]


def test_bad_setting_fails_with_the_variable_name():
    import os

    env = {**os.environ, "LYTTE_PARTITIONS": "lots"}
    result = lytte("topics", "list", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("lytte: environment: LYTTE_PARTITIONS: Input should be a valid integer")
