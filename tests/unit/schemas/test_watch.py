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
