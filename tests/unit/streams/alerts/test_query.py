import csv
import itertools
import pickle
import re
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from streams.alerts.query import And, Node, Not, Or, Query, Term, parse_query, term_pattern
from tests.fixtures.factories import AIRLINE_TWEETS


def tree(text: str) -> Node:
    return parse_query(text).expression


def w(text: str, **kw) -> Term:
    return Term(text, **kw)


# ---- parsing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a OR b AND c", Or((w("a"), And((w("b"), w("c")))))),
        ("a AND b OR c", Or((And((w("a"), w("b"))), w("c")))),
        ("NOT a AND b", And((Not(w("a")), w("b")))),
        ("(a OR b) AND c", And((Or((w("a"), w("b"))), w("c")))),
        ("a AND NOT (b OR c)", And((w("a"), Not(Or((w("b"), w("c"))))))),
        # implicit AND binds like AND: tighter than OR, looser than NOT
        ("food poisoning", And((w("food"), w("poisoning")))),
        ("a b OR c", Or((And((w("a"), w("b"))), w("c")))),
        ("recall NOT test", And((w("recall"), Not(w("test"))))),
        ('recall "food poisoning"', And((w("recall"), w("food poisoning", phrase=True)))),
        # nested ANDs and ORs are flattened, parentheses leave no trace
        ("a AND (b AND c)", And((w("a"), w("b"), w("c")))),
        ("(a OR (b OR c)) OR d", Or((w("a"), w("b"), w("c"), w("d")))),
        ("((recall))", w("recall")),
        ("NOT NOT recall", Not(Not(w("recall")))),
    ],
)
def test_precedence_and_implicit_and(query, expected):
    assert tree(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"food   poisoning"', w("food poisoning", phrase=True)),  # whitespace inside a phrase is one space
        ('"rock AND roll"', w("rock AND roll", phrase=True)),  # keywords are words inside quotes
        ('"or"', w("or", phrase=True)),
        ('"U.S. airline"', w("U.S. airline", phrase=True)),
        ("cancel*", w("cancel", prefix=True)),
        ("@nordair", w("@nordair")),
        ("#fail", w("#fail")),
        ("@Nord_Air*", w("@Nord_Air", prefix=True)),
        ("don't", w("don't")),
        ("wi-fi", w("wi-fi")),
        ("Ærø", w("Ærø")),
        ("ANDROID", w("ANDROID")),  # a keyword only as a whole word
        ("NOTICE", w("NOTICE")),
        ("caf\u0065\u0301", w("café")),  # NFC
    ],
)
def test_terms_parse(query, expected):
    result = tree(query)
    assert result == expected
    assert (result.phrase, result.prefix) == (expected.phrase, expected.prefix)


def test_terms_remember_their_column():
    t = tree('recall OR  "food poisoning"')
    assert [o.column for o in t.operands] == [1, 12]
    assert tree("a AND NOT b").operands[1].column == 7


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("recall   or_not OR lawsuit", "recall AND or_not OR lawsuit"),
        ('(refund OR chargeback) NOT "thank  you"', '(refund OR chargeback) AND NOT "thank you"'),
        ("NOT (a OR b) c", "NOT (a OR b) AND c"),
        ("((a b))", "a AND b"),
        ("cancel* #fail", "cancel* AND #fail"),
    ],
)
def test_canonical_str(query, canonical):
    q = parse_query(query)
    assert str(q) == canonical
    assert parse_query(canonical).expression == q.expression


# ---- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "the query is empty at column 1"),
        ("   ", "the query is empty at column 1"),
        ("recall OR", "expected a term after OR at column 10"),
        ("recall OR   ", "expected a term after OR at column 10"),
        ("OR recall", "expected a term before OR at column 1"),
        ("a AND OR b", "expected a term after AND at column 7"),
        ("a NOT", "expected a term after NOT at column 6"),
        ("NOT", "expected a term after NOT at column 4"),
        ("(OR b)", "expected a term before OR at column 2"),
        ("(a OR) b", "expected a term after OR at column 6"),
        ("(a OR b", "'(' at column 1 is never closed"),
        ("a ((b) OR c", "'(' at column 3 is never closed"),
        ("a OR b)", "')' at column 7 has no matching '('"),
        ("()", "empty parentheses at column 1"),
        ('"food poisoning', "unterminated quote at column 1"),
        ('"a" OR "b', "unterminated quote at column 8"),
        ('recall OR ""', "empty phrase at column 11"),
        ("recall or lawsuit", "'or' at column 8 is not an operator: write OR, or \"or\" in double quotes to search"),
        ("And so", "'And' at column 1 is not an operator: write AND"),
        ("outage -test", "a word must start with a letter, a digit or '_' at column 8 (write NOT to exclude"),
        ("'recall'", "a word must start with a letter, a digit or '_' at column 1"),
        ("can*cel", "'*' at column 4 may only end a word (cancel*)"),
        ("a *", "'*' at column 3 may only end a word"),
        ("bob@nordair", "'@' at column 4 may only start a word (@handle, #hashtag)"),
        ("@ x", "'@' at column 1 must be followed by a letter, a digit or '_'"),
        ("a & b", "unexpected '&' at column 3 (put words with punctuation in double quotes)"),
        ("nordair.com", "unexpected '.' at column 8"),
        ("“food poisoning”", "'“' at column 1: phrases take straight double quotes"),
        ("NOT test", "it matches the empty text, so nearly every post (the NOT at column 1 needs a term"),
        ("recall OR NOT test", "it matches the empty text, so nearly every post (the NOT at column 11"),
        ("NOT a NOT b", "it matches the empty text"),
    ],
)
def test_errors_name_the_problem_and_the_column(query, message):
    with pytest.raises(ValueError) as caught:
        parse_query(query)
    text = str(caught.value)
    assert text.startswith(f"bad query {query!r}: {message}")
    assert "\n" not in text


def test_error_message_stays_on_one_line_for_a_multi_line_query():
    with pytest.raises(ValueError, match=r"^bad query 'recall\\nOR': expected a term after OR at column 10$"):
        parse_query("recall\nOR")


def test_nesting_is_bounded_and_a_long_query_is_shortened_in_the_message():
    assert parse_query("(" * 50 + "recall" + ")" * 50).matches("recall")
    assert parse_query("NOT " * 50 + "recall").matches("recall")
    deep = "recall AND " + "(NOT " * 26 + "x" + ")" * 26  # the 26th "(" is the 51st level, at 11 + 25 * 5 + 1
    with pytest.raises(ValueError, match=r"^bad query '.{120}…': nested deeper than 50 levels at column 137$"):
        parse_query(deep)


def test_not_with_a_required_term_is_fine():
    assert parse_query("recall AND NOT test").matches("product recall")
    assert parse_query("NOT NOT recall").matches("recall")


# ---- matching --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("recall", "Product RECALL announced", True),
        ("recall", "(recall)", True),
        ("recall", "the recall's scope", True),  # an apostrophe is not a word character
        ("recall", "recall-related", True),
        ("recall", "recalls everywhere", False),  # whole words
        ("recall", "a prerecall notice", False),
        ("recall", "recall_2", False),  # `_` is a word character
        ("recall", "#recall", False),  # a bare word is not the hashtag
        ("recall", "@recall", False),
        ("#recall", "#Recall now", True),
        ("#recall", "recall now", False),
        ("@nordair", "hey @NordAir", True),
        ("@nordair", "mail bob@nordair", False),  # an address, not a handle
        ("@nordair", "@nordair_help", False),
        ("cancel*", "flight CANCELLED", True),
        ("cancel*", "a cancellation", True),
        ("cancel*", "cancel", True),
        ("cancel*", "uncancelled", False),
        ("cancel*", "#cancelled", False),
        ("don't", "I don’t care", True),  # typographic apostrophe
        ("don’t", "I don't care", True),
        ("wi-fi", "no WI-FI on board", True),
        ('"food poisoning"', "food\n  poisoning", True),
        ('"food poisoning"', "poisoning food", False),  # order
        ('"food poisoning"', "food, poisoning", False),  # only whitespace between the words
        ('"food poisoning"', "seafood poisoning", False),  # whole words
        ('"food poisoning"', "food poisonings", False),
        ('"U.S. airline"', "best u.s. airline", True),
        ("food poisoning", "poisoning from the food", True),  # implicit AND: anywhere, any order
        ("Ærø", "flights to ÆRØ", True),
        ("Ærø", "ærøskøbing", False),
        ("ær*", "ærøskøbing", True),
        ("straße", "STRAẞE", True),  # re.IGNORECASE: ß and ẞ are one letter
        ("straße", "Straße", True),
        ("straße", "STRASSE", False),  # ... but ß is not "ss" (as in brand matching): write straße OR strasse
        ("İstanbul", "istanbul", True),  # re's own folding, which the quick substring test must not defeat
        ("ſale", "SALE", True),
        ("Kelvin", "kelvin", True),  # Kelvin sign
        ("Σοφία", "σοφίας", False),
        ("σοφίας", "ΣΟΦΊΑΣ", True),  # final sigma folds to sigma
        ('(refund OR chargeback) AND NOT "thank you"', "refund received, thank  you!", False),
        ('(refund OR chargeback) AND NOT "thank you"', "still no refund", True),
        ('(refund OR chargeback) AND NOT "thank you"', "thank you for nothing", False),
    ],
)
def test_matching(query, text, expected):
    assert parse_query(query).matches(text) is expected


def test_terms_are_the_positive_terms_once_each_in_query_order():
    q = parse_query('recall OR "food poisoning" OR recall OR cancel* AND NOT (test AND NOT drill)')
    assert q.terms() == ("recall", '"food poisoning"', "cancel*", "drill")


def test_explain_names_the_terms_found():
    q = parse_query('recall OR lawsuit OR cancel* OR "food poisoning" AND NOT test')
    assert q.explain("Lawsuit over the cancelled flight") == ("lawsuit", "cancel*")
    assert q.explain("nothing here") == ()
    # the terms present, whether or not the whole query matches
    assert parse_query("recall AND lawsuit").explain("a recall") == ("recall",)


def test_query_is_an_immutable_hashable_value():
    q = parse_query("recall OR lawsuit")
    assert q == parse_query("recall OR lawsuit")
    assert len({q, parse_query("recall OR lawsuit"), parse_query("recall  OR lawsuit")}) == 2
    assert q.source == "recall OR lawsuit"
    with pytest.raises(FrozenInstanceError):
        q.source = "x"  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(q))
    assert copy == q and copy.matches("a lawsuit")


# ---- properties ------------------------------------------------------------------------------------------------

# The reference evaluator: split the text into words the plain way, then evaluate the generated tree on them.
# A word is a run of word characters, with the @ or # right before it; a run that follows a word character,
# @ or # (after its own @ or #) is not a word of its own ("bob@nordair" holds one word, "bob").
WORDS = ["recall", "Ærø", "straße", "food", "poisoning", "@nordair", "#fail", "x1"]
PREFIXES = ["canc", "ær", "#fa"]
PHRASES = ["food poisoning", "ærø air", "@nordair sucks"]
NOISE = [
    "recalls",
    "prerecall",
    "recall_",
    "cancel",
    "cancelled",
    "CANCELLATION",
    "Ærøskøbing",
    "STRASSE",
    "STRAẞE",
    "foodie",
    "poisonings",
    "nordair",
    "@nordair2",
    "#failing",
    "#FAIL",
    "fail",
    "air",
    "sucks",
    "X1",
    "zz",
]
SEPARATORS = [" ", "  ", "\n", ", ", ". ", "-", "'", "’", "@", "#", "_", "(", ")", "!", "\u00a0"]


def is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def reference_words(text: str) -> list[tuple[str, int, int]]:
    words, i = [], 0
    while i < len(text):
        start = i
        if text[i] in "@#" and i + 1 < len(text) and is_word_char(text[i + 1]):
            i += 1
        if not is_word_char(text[i]):
            i = start + 1
            continue
        while i < len(text) and is_word_char(text[i]):
            i += 1
        if start == 0 or not (is_word_char(text[start - 1]) or text[start - 1] in "@#"):
            words.append((text[start:i].lower(), start, i))
    return words


def reference_term(term: Term, text: str) -> bool:
    words = reference_words(text)
    wanted = term.text.lower().split()
    if term.prefix:
        return any(word.startswith(wanted[0]) for word, _, _ in words)
    for k in range(len(words) - len(wanted) + 1):
        run = words[k : k + len(wanted)]
        gaps = [text[a[2] : b[1]] for a, b in itertools.pairwise(run)]
        if [word for word, _, _ in run] == wanted and all(g.isspace() for g in gaps):
            return True
    return False


def reference(node: Node, text: str) -> bool:
    if isinstance(node, Term):
        return reference_term(node, text)
    if isinstance(node, Not):
        return not reference(node.operand, text)
    if isinstance(node, And):
        return all(reference(o, text) for o in node.operands)
    return any(reference(o, text) for o in node.operands)


def reference_positive(node: Node, negated: bool = False) -> set[Term]:
    if isinstance(node, Term):
        return set() if negated else {node}
    if isinstance(node, Not):
        return reference_positive(node.operand, not negated)
    return set().union(*(reference_positive(o, negated) for o in node.operands))


terms_st = st.one_of(
    st.sampled_from(WORDS).map(Term),
    st.sampled_from(PREFIXES).map(lambda p: Term(p, prefix=True)),
    st.sampled_from(PHRASES).map(lambda p: Term(p, phrase=True)),
)
trees_st = st.recursive(
    terms_st,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: And(tuple(ops))),
        st.lists(inner, min_size=2, max_size=4).map(lambda ops: Or(tuple(ops))),
    ),
    max_leaves=8,
)


def shout(text: str) -> str:
    """Upper case letter by letter, as re.IGNORECASE sees it: "straße" -> "STRAßE" (str.upper gives "STRASSE")."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in text)


@st.composite
def rendered(draw, node: Node) -> str:
    """Any spelling of the tree: implicit or explicit AND, spare parentheses and spaces, case of the terms."""

    def spell(n: Node) -> str:
        if isinstance(n, Term):
            text = draw(st.sampled_from([n.text, shout(n.text)]))
            return f'"{text}"' if n.phrase else f"{text}*" if n.prefix else text
        if isinstance(n, Not):
            inner = spell(n.operand)
            return f"NOT ({inner})" if isinstance(n.operand, And | Or) or draw(st.booleans()) else f"NOT {inner}"
        if isinstance(n, And):
            parts = [f"({spell(o)})" if isinstance(o, Or) or draw(st.booleans()) else spell(o) for o in n.operands]
            return "".join(p + draw(st.sampled_from([" AND ", " ", "  AND\n"])) for p in parts[:-1]) + parts[-1]
        return " OR ".join(f"({spell(o)})" if draw(st.booleans()) else spell(o) for o in n.operands)

    return draw(st.sampled_from(["", " "])) + spell(node)


@st.composite
def texts_st(draw) -> str:
    pieces = st.one_of(
        st.sampled_from(WORDS + [p + "x" for p in PREFIXES] + PHRASES).map(
            lambda t: t if t.startswith(("@", "#")) else t.upper() if len(t) % 2 else t.title()
        ),
        st.sampled_from(WORDS + PHRASES + NOISE),
    )
    words = draw(st.lists(pieces, max_size=8))
    return "".join(draw(st.sampled_from(SEPARATORS)) + word for word in words) + draw(st.sampled_from(SEPARATORS))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), node=trees_st)
def test_matches_agrees_with_the_reference_evaluator(data, node):
    assume(not reference(node, ""))
    query = parse_query(data.draw(rendered(node)))
    for text in data.draw(st.lists(texts_st(), min_size=1, max_size=6)):
        assert query.matches(text) is reference(node, text), text
        positive = {str(t) for t in reference_positive(node)}
        assert {t.casefold() for t in query.explain(text)} == {
            t.casefold() for t in positive if reference_term(parse_query(t).expression, text)
        }


@settings(max_examples=300, deadline=None)
@given(data=st.data(), node=trees_st)
def test_canonical_str_round_trips(data, node):
    assume(not reference(node, ""))
    query = parse_query(data.draw(rendered(node)))
    again = parse_query(str(query))
    assert again.expression == query.expression
    assert str(again) == str(query)


# letters that re.IGNORECASE folds in ways str.casefold does not (and the other way round)
TRAPS = "aiIıİsSſkKKßẞσςΣµμΜǅǄǆﬀfæÆ"


@settings(max_examples=500, deadline=None)
@given(word=st.text(TRAPS, min_size=1, max_size=4), data=st.data())
def test_quick_substring_test_never_rules_out_a_match(word, data):
    query = parse_query(word)
    variants = st.text(
        st.sampled_from([*word, *word.upper(), *word.lower(), *word.casefold(), *word.swapcase()]), max_size=6
    )
    text = data.draw(variants) + data.draw(st.sampled_from(["", " ", "-"])) + data.draw(variants)
    assert query.matches(text) is (term_pattern(query.expression).search(text) is not None)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from([*"ab \"()*@#-'’_.&Ø\n", " AND ", " OR ", "NOT ", " or "]), max_size=20).map("".join))
def test_any_text_parses_or_fails_with_one_line_and_a_column(text):
    try:
        query = parse_query(text)
    except ValueError as error:
        message = str(error)
        assert message.startswith(f"bad query {text!r}: ")
        assert "\n" not in message and re.search(r"column \d+", message)
    else:
        assert isinstance(query, Query)
        assert not query.matches("")


@pytest.mark.skipif(not AIRLINE_TWEETS.exists(), reason=f"{AIRLINE_TWEETS} is absent (shared data, not shipped)")
def test_real_tweets_agree_with_the_reference_evaluator():
    with AIRLINE_TWEETS.open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)][:3000]
    query = parse_query('delay* OR cancel* OR refund OR luggage OR rude OR "customer service" AND NOT thanks')
    hits = [query.matches(t) for t in texts]
    assert hits == [reference(query.expression, t) for t in texts]
    assert 300 < sum(hits) < 2000  # the query is realistic: it picks out some tweets, not all
