"""The `lytte` command as an operator uses it: one-line configuration errors (what `lytte score` prints:
test_cli_score)."""

import subprocess
import sys

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


def test_score_reports_rejected_lines():
    result = lytte("score", stdin='{"source": "myspace"}\n')
    assert result.returncode == 0
    assert "line 1: rejected: " in result.stderr


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
