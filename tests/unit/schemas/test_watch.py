import pytest

from schemas.watch import WatchConfigError, load_watch_config, parse_watch_config


def error(text: str) -> str:
    with pytest.raises(WatchConfigError) as exc:
        parse_watch_config(text, "watch.yaml")
    return str(exc.value)


def test_the_shipped_config_loads():
    config = load_watch_config("config/watch.yaml")
    assert [b.id for b in config.brands] == ["nordair", "fjordbank"]
    assert config.brands[0].handles == ["nordair", "nordair_help"]  # @ stripped
    assert config.key_people[0].handle == "ingrid_news"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("brands: []\n", "watch.yaml:1: brands: List should have at least 1 item"),
        (
            "brands:\n  - id: a\n    name: A\n    colour: red\n",
            "watch.yaml:4: brands.0.colour: Extra inputs are not permitted",
        ),
        ("brands:\n  - id: Bad Id\n    name: A\n", "watch.yaml:2: brands.0.id: String should match pattern"),
        (
            "brands:\n  - id: a\n    name: A\n  - id: a\n    name: B\n",
            "watch.yaml:4: brands.1.id: id 'a' is used twice",
        ),
        ("brands:\n  - id: a\n", "watch.yaml:2: brands.0.name: Field required"),
        ("brands:\n  - id: a\n    name: A\n    aliases: ['  ']\n", "watch.yaml:4: brands.0.aliases: blank entry"),
        ("brands: [\n", "watch.yaml:2: invalid YAML"),
        ("- a\n", "watch.yaml:1: the file must be a mapping"),
    ],
)
def test_errors_name_file_line_field_and_problem(text, expected):
    message = error(text)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(WatchConfigError, match=r"nope.yaml: cannot read the watch configuration"):
        load_watch_config(tmp_path / "nope.yaml")


ALERTS_BASE = "brands:\n  - id: a\n    name: A\nalerts:\n"


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            "  rules:\n    defaults:\n      volume_spikes: {}\n",
            "watch.yaml:7: alerts.rules.defaults.volume_spikes: Extra",
        ),
        (
            "  rules:\n    brands:\n      a:\n        keyword: {query: 'recall OR'}\n",
            "watch.yaml:8: alerts.rules.brands.a.keyword.query: bad query",
        ),
        (
            "  rules:\n    brands:\n      nope:\n        viral: false\n",
            "watch.yaml:7: alerts.rules.brands.nope: 'nope' is not a brand or competitor id",
        ),
        (
            "  rules:\n    defaults:\n      volume_spike: {threshold: 2, resolve_threshold: 3}\n",
            "watch.yaml:7: alerts.rules.defaults.volume_spike: resolve_threshold must be below threshold",
        ),
        (
            "  receivers:\n    - {name: hook, type: webhook, url: 'http://h/'}\n  route: {receiver: pager}\n",
            "route to unknown receiver 'pager'",
        ),
        (
            "  receivers:\n    - {name: hook, type: webhook}\n",
            "watch.yaml:6: alerts.receivers.0: give exactly one of url",
        ),
    ],
)
def test_bad_alert_rules_stop_the_start_up_with_file_line_and_path(alerts, expected):
    message = error(ALERTS_BASE + alerts)
    assert expected in message, message
    assert "\n" not in message


def test_per_brand_rules_override_the_defaults():
    config = parse_watch_config(
        ALERTS_BASE
        + "  rules:\n    brands:\n      a:\n        volume_spike: {min_count: 10}\n        viral: false\n"
        + "        keyword: {query: 'recall'}\n",
        "watch.yaml",
    )
    rules = config.alerts.rules.for_brand("a")
    assert sorted(rules) == ["key_person", "keyword", "negative_surge", "volume_spike"]
    assert rules["volume_spike"].min_count == 10
    assert rules["volume_spike"].threshold == config.alerts.rules.defaults.volume_spike.threshold
