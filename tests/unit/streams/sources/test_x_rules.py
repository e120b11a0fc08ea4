"""The filtered stream's rules: built from the watch configuration within X's length limit, planned as a
difference, and synced through tweepy against the fake X (add missing, delete stale, keep equal, dry run)."""

import pytest

from schemas.watch import WatchConfig
from streams.sources.runtime import Target, listen_targets
from streams.sources.x_rules import ActiveRule, Rule, clauses, pack_clauses, plan_rules, rules_for, sync_rules
from streams.sources.x_stream import ApiHostAdapter, XStream
from tests.fakes.x import FakeX

NORDAIR = Target("nordair", "brand", ("Nordair", "Nord Air"), ("nordair", "nordair_help"), ("nordair",))
INGRID = Target("ingrid_news", "key_person", (), ("ingrid_news",), ())
TOKEN = "test-bearer-QmVhcmVy"


def test_a_target_becomes_quoted_names_handles_and_hashtags_and_key_people_also_from():
    assert clauses(NORDAIR) == ['"Nordair"', '"Nord Air"', "@nordair", "@nordair_help", "#nordair"]
    assert clauses(INGRID) == ["@ingrid_news", "from:ingrid_news"]
    assert clauses(Target("q", "brand", ('say "hi"',), (), ())) == ['"say \\"hi\\""']


def test_one_rule_per_target_tagged_with_it():
    assert rules_for([NORDAIR, INGRID]) == [
        Rule('"Nordair" OR "Nord Air" OR @nordair OR @nordair_help OR #nordair', "brand:nordair"),
        Rule("@ingrid_news OR from:ingrid_news", "key_person:ingrid_news"),
    ]


def test_a_target_too_long_for_one_rule_is_split_over_several_with_the_same_tag():
    rules = rules_for([NORDAIR], max_chars=30)
    assert rules == [
        Rule('"Nordair" OR "Nord Air"', "brand:nordair"),
        Rule("@nordair OR @nordair_help", "brand:nordair"),
        Rule("#nordair", "brand:nordair"),
    ]
    assert all(len(rule.value) <= 30 for rule in rules)
    many = Target("big", "brand", tuple(f"Brand name number {i}" for i in range(100)), (), ())
    split = rules_for([many], max_chars=512)
    assert len(split) > 1 and all(len(r.value) <= 512 for r in split)
    assert sum(r.value.count('"') // 2 for r in split) == 100  # every name in exactly one rule


def test_a_clause_longer_than_any_rule_is_left_out():
    assert pack_clauses(['"Nordair"', '"Nord Air"', "@nordair"], 8) == (["@nordair"], ['"Nordair"', '"Nord Air"'])
    assert rules_for([Target("x", "brand", ("A" * 600,), (), ())]) == []


def test_the_demo_watch_file_gives_one_rule_per_brand_competitor_and_key_person():
    watch = WatchConfig.model_validate(
        {
            "brands": [{"id": "nordair", "name": "Nordair", "handles": ["@nordair"]}],
            "competitors": [{"id": "skyline", "name": "Skyline", "hashtags": ["#skyline"]}],
            "key_people": [{"handle": "@ingrid_news", "label": "journalist"}],
        }
    )
    assert [r.tag for r in rules_for(listen_targets(watch))] == [
        "brand:nordair",
        "competitor:skyline",
        "key_person:ingrid_news",
    ]


def test_plan_adds_what_is_missing_deletes_what_is_stale_and_keeps_what_is_equal():
    existing = [
        ActiveRule("1", '"Nordair"', "brand:nordair"),
        ActiveRule("2", '"Skyline"', "competitor:skyline"),
        ActiveRule("3", '"Fjordbank"', None),
    ]
    wanted = [Rule('"Nordair"', "brand:nordair"), Rule('"Nord Air"', "brand:nordair")]
    to_add, to_delete = plan_rules(existing, wanted)
    assert to_add == [Rule('"Nord Air"', "brand:nordair")]
    assert [r.id for r in to_delete] == ["2", "3"]


def test_plan_retags_and_drops_duplicates_and_nothing_when_equal():
    existing = [ActiveRule("1", "@a", "brand:old"), ActiveRule("2", "@b", "brand:b"), ActiveRule("3", "@b", "brand:b")]
    to_add, to_delete = plan_rules(existing, [Rule("@a", "brand:new"), Rule("@b", "brand:b")])
    assert to_add == [Rule("@a", "brand:new")]
    assert [r.id for r in to_delete] == ["1", "3"]
    assert plan_rules([ActiveRule("9", "@b", "brand:b")], [Rule("@b", "brand:b")]) == ([], [])


@pytest.fixture
def fake_x():
    with FakeX(TOKEN) as fake:
        yield fake


def _client(fake: FakeX) -> XStream:
    return XStream(TOKEN, runtime=None, policy=None, adapter=ApiHostAdapter(fake.url))


def test_sync_against_x_adds_missing_deletes_stale_and_keeps_equal(fake_x):
    fake_x.set_rules(("@nordair_old", "brand:nordair"), ("@ingrid_news OR from:ingrid_news", "key_person:ingrid_news"))
    wanted = rules_for([NORDAIR, INGRID])
    result = sync_rules(_client(fake_x), wanted)
    assert sorted((r["value"], r["tag"]) for r in fake_x.rules) == sorted((r.value, r.tag) for r in wanted)
    assert [r.value for r in result.added] == [wanted[0].value]
    assert [r.value for r in result.deleted] == ["@nordair_old"]
    assert result.kept == 1 and result.problems == []
    again = sync_rules(_client(fake_x), wanted)
    assert (again.added, again.deleted, again.kept) == ([], [], 2)
    posts = [r for r in fake_x.requests if r.method == "POST"]
    assert all(r.authorized for r in fake_x.requests) and len(posts) == 2  # the second sync only read


def test_a_retag_deletes_before_adding_because_x_refuses_a_second_rule_with_the_same_value(fake_x):
    fake_x.set_rules(("@ingrid_news OR from:ingrid_news", "journalist"))
    result = sync_rules(_client(fake_x), rules_for([INGRID]))
    assert result.problems == []
    assert [(r["value"], r["tag"]) for r in fake_x.rules] == [
        ("@ingrid_news OR from:ingrid_news", "key_person:ingrid_news")
    ]


def test_a_dry_run_asks_x_and_changes_nothing(fake_x):
    fake_x.set_rules(("@stale", "brand:gone"))
    result = sync_rules(_client(fake_x), rules_for([NORDAIR]), dry_run=True)
    assert len(result.added) == 1 and [r.value for r in result.deleted] == ["@stale"]
    assert [r["value"] for r in fake_x.rules] == ["@stale"]
    assert all(r.query.get("dry_run") == "true" for r in fake_x.requests if r.method == "POST")


def test_rules_x_refuses_are_reported_not_fatal(fake_x):
    wanted = [Rule("@ok", "brand:a"), Rule("@" + "x" * 600, "brand:b")]  # longer than the fake's 512
    result = sync_rules(_client(fake_x), wanted)
    assert [r.value for r in result.added] == ["@ok"]
    assert len(result.problems) == 1 and "UnprocessableEntity" in result.problems[0]
    assert "1 refused" in result.summary()
