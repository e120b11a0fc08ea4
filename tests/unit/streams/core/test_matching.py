import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.watch import parse_watch_config
from streams.core.matching import Matcher, fold_for_search

CONFIG = parse_watch_config("""
brands:
  - id: united
    name: United
    aliases: ["United Airlines"]
    handles: ["@united"]
    hashtags: ["#unitedairlines"]
    keywords: [delay, lost luggage]
    exclude: ["United States", "United Nations", "Manchester United"]
  - id: delta
    name: Delta
    handles: ["@delta"]
competitors:
  - id: skyline
    name: Skyline
key_people:
  - handle: "@Ingrid_News"
    label: journalist
""")


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(CONFIG)


def brands(matcher, text):
    return [m.brand for m in matcher.brands(text)]


@pytest.mark.parametrize(
    "text",
    [
        "@united where is my bag",
        "flying UNITED today",
        "#UnitedAirlines again",
        "United Airlines lost it",
        "thanks united!",
        "(united)",
        "delay on united.",
        "@United",
    ],
)
def test_mentions_match(matcher, text):
    assert brands(matcher, text) == ["united"]


@pytest.mark.parametrize(
    "text",
    [
        "reunited with my family",  # inside a word
        "the united states of america",  # excluded phrase, any case
        "talks at the United Nations",
        "Manchester United won",
        "unitedairlines.com is slow",  # a domain is not the hashtag or the handle
        "@united_fan_club is fun",  # a different handle
        "#unitedway charity",  # a different hashtag
        "email me at bob@united",  # not a mention: preceded by a word character
        "a delay and lost luggage",  # keywords alone are not a mention
    ],
)
def test_false_positives_do_not_match(matcher, text):
    assert brands(matcher, text) == []


def test_excluded_phrase_does_not_hide_a_real_mention(matcher):
    assert brands(matcher, "back in the United States, thanks @united") == ["united"]


def test_keywords_and_terms_are_recorded(matcher):
    (m,) = matcher.brands("United Airlines: 3h delay and lost   luggage, @united")
    assert m.terms == ("@united", "united airlines")
    assert m.keywords == ("delay", "lost luggage")
    assert m.role == "brand"


def test_several_brands_and_competitors(matcher):
    found = matcher.brands("delta or skyline? never united")
    assert [(m.brand, m.role) for m in found] == [("united", "brand"), ("delta", "brand"), ("skyline", "competitor")]


def test_key_people_as_author_and_mentioned(matcher):
    assert [(p.person.handle, p.role) for p in matcher.key_people("ingrid_news", "hi")] == [("Ingrid_News", "author")]
    assert [p.role for p in matcher.key_people("someone", "cc @ingrid_NEWS")] == ["mentioned"]
    assert [p.role for p in matcher.key_people("@Ingrid_News", "me, @ingrid_news")] == ["author"]
    assert matcher.key_people("someone", "email ingrid_news@example.com") == []


_CASE_TWINS = "uUnNiItTeEdDlLaAsSkKyYİıſKσςΣµμ "


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_CASE_TWINS + "@#.x", max_size=30))
def test_the_quick_substring_test_never_rules_out_a_match(text):
    """The needles only skip the pattern scan for texts it could not match, whatever the letter cases."""
    for watch in Matcher(CONFIG)._watches:
        if watch.mention.search(text):
            assert any(n in fold_for_search(text) for n in watch.needles), (text, watch.needles)


def test_folding_treats_the_letters_re_treats_as_one_the_same():
    assert fold_for_search("@NordAır ſkyline KELVIN") == "@nordair skyline kelvin"
