"""A post's terms and hashtags, and the bounded Space-Saving counter of a bucket."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import TermCount, rank_terms
from streams.core import terms as terms_module
from streams.core.terms import space_saving, stopwords, terms_of


def test_the_docstring_scenarios():
    text = "Lost my bag AGAIN @nordair, 3h in Oslo! Flight A320neo https://x.co/a #fail #NordAir #2024"
    assert terms_of(text, "en") == (("a320neo", "bag", "flight", "lost", "oslo"), ("#fail", "#nordair"))
    assert terms_of("Flyet er forsinket igjen, og ingen svarer på telefonen", "no") == (
        ("flyet", "forsinket", "igjen", "svarer", "telefonen"),
        (),
    )


def test_nordic_letters_are_letters_and_a_decomposed_letter_is_one():
    assert terms_of("Kø ved Ærø, bagage på Åland, väska i Göteborg", "da")[0] == (
        "bagage",
        "göteborg",
        "väska",
        "åland",  # sorted by code point: å (U+00E5) before æ (U+00E6)
        "ærø",
    )
    decomposed = "A\u030aland"  # "Å" typed as "A" and a combining ring
    assert terms_of(decomposed, "sv")[0] == ("åland",)


def test_what_is_no_term():
    text = "www.nordair.com/help http://x.co/1?a=b 2024 1,000 12345 ok no é ab_cd @someone_else me@home.org A320"
    assert terms_of(text, "en") == (("a320",), ())


def test_the_separators_split_words_and_a_stopword_with_an_apostrophe_is_removed_whole():
    assert terms_of("Nordair’s check-in: don't couldn't o'clock lost_luggage", "en")[0] == (
        "check",
        "clock",
        "lost",
        "luggage",
        "nordair",
    )


def test_each_distinct_term_once_and_sorted():
    assert terms_of("Delay delay DELAY, refund? Refund! #Fail #fail", "en") == (("delay", "refund"), ("#fail",))


def test_hashtags():
    tags = terms_of("#NordAirFail ##double a#b #1st #x_1 #2024 #æøå #delay delay", "en")
    assert tags == (("delay", "double"), ("#1st", "#delay", "#nordairfail", "#x_1", "#æøå"))
    assert terms_of("#delay only as a tag", "en")[0] == ("tag",), "a hashtag's word is not a term too"


def test_long_tokens_are_junk():
    long = "x" * 41
    assert terms_of(f"{long} #{long} fine", "en") == (("fine",), ())
    assert terms_of(f"{'y' * 40} #{'z' * 40}", "en") == (("y" * 40,), ("#" + "z" * 40,))


def test_stopwords_by_language():
    # "dog" is Danish for "however", "bra" Swedish for "good": real words in an English post
    assert terms_of("my dog hit the bra shop", "en")[0] == ("bra", "dog", "hit", "shop")
    for lang in ("da", "no", "sv", "und", "de"):
        assert terms_of("my dog hit the bra shop", lang)[0] == ("shop",), lang
    # English is removed from Nordic posts too (they mix it in)
    assert terms_of("the flyet was forsinket", "da")[0] == ("flyet", "forsinket")
    assert stopwords("en") < stopwords("da") == stopwords("no") == stopwords("sv")
    assert {"og", "och", "ikke", "inte", "jeg", "jag"} <= stopwords("sv")


def test_words_a_brand_wall_needs_are_not_stopwords():
    assert terms_of("website down, app not working, fire at the gate, please fix this problem", "en")[0] == (
        "app",
        "down",
        "fire",
        "fix",
        "gate",
        "problem",
        "website",
        "working",
    )


def _fresh(top: tuple[TermCount, ...]) -> tuple[TermCount, ...]:
    """An equal tuple that is not the same object: `space_saving` has no working lists for it."""
    return tuple(TermCount(t, c) for t, c in top)


def test_space_saving_scenario():
    top = space_saving((), ("crew", "delay"), 2)
    assert top == (("crew", 1), ("delay", 1))
    top = space_saving(top, ("delay",), 2)
    assert top == (("delay", 2), ("crew", 1))
    top = space_saving(top, ("gate",), 2)
    assert top == (("delay", 2), ("gate", 2))
    assert [(t.term, t.count) for t in top] == [("delay", 2), ("gate", 2)]


def test_space_saving_edges():
    top = space_saving((), ("a", "b"), 3)
    assert space_saving(top, (), 3) is top
    assert space_saving(top, ("c",), 0) == ()
    # a tuple longer than `keep` (the bound was lowered) is cut to it
    assert space_saving(_fresh(top), ("c",), 1) == (("c", 2),)


def _count(posts: list[tuple[str, ...]], keep: int, fresh: bool = False) -> tuple[TermCount, ...]:
    top: tuple[TermCount, ...] = ()
    for post in posts:
        top = space_saving(_fresh(top) if fresh else top, post, keep)
    return top


posts_strategy = st.lists(
    st.lists(st.sampled_from([f"t{i:02d}" for i in range(40)]), max_size=8, unique=True).map(
        lambda p: tuple(sorted(p))
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(posts=posts_strategy, keep=st.integers(1, 30))
def test_space_saving_keeps_its_guarantees(posts, keep):
    top = _count(posts, keep)
    true = Counter(t for post in posts for t in post)
    assert len(top) <= keep
    assert list(top) == list(rank_terms(top, keep)), "always ranked: count desc, then term"
    assert sum(c for _, c in top) == sum(true.values()), "the counts add up to every term counted"
    assert all(c >= true[t] for t, c in top), "a count is never below the term's true count"
    kept = {t for t, _ in top}
    assert all(t in kept for t, c in true.items() if c * keep > sum(true.values())), "a frequent term is kept"
    if len(true) <= keep:
        assert dict(top) == dict(true), "exact while it has room for every term"


@settings(max_examples=100, deadline=None)
@given(posts=posts_strategy, keep=st.integers(1, 12))
def test_space_saving_is_the_same_with_or_without_its_working_lists(posts, keep):
    assert _count(posts, keep) == _count(posts, keep, fresh=True)


def test_the_working_lists_are_bounded_and_an_older_state_counts_again_alike():
    terms_module._working.clear()
    tops = [space_saving((), (f"w{i}",), 3) for i in range(terms_module._WORKING_KEPT + 10)]
    assert len(terms_module._working) == terms_module._WORKING_KEPT
    first = space_saving(tops[-1], ("a",), 3)
    again = space_saving(tops[-1], ("a",), 3)  # the same older state, its working lists already taken
    assert first == again and first is not again


@pytest.mark.parametrize("lang", ["en", "da"])
def test_terms_of_is_cached_per_text(lang):
    text = f"cache check {lang} flight"
    assert terms_of(text, lang) is terms_of(text, lang)
