"""The keyword rule's boolean query language: `recall OR lawsuit OR "food poisoning"`.

The language, small on purpose:

- a **word** is letters, digits, `_`, `-` and apostrophes, starting with a letter, digit or `_` (any script:
  `Ærø`, `straße`); `@nordair` and `#fail` are one word each; a trailing `*` makes a prefix (`cancel*`
  matches "cancel", "cancelled", "cancellation");
- a **phrase** is in double quotes: `"food poisoning"` matches those words in that order, separated by any
  whitespace ("food   poisoning", "food\\npoisoning", not "food, poisoning"); inside quotes every character
  but whitespace is literal (`"U.S."`, `"or"`, `"50%"`), a `*` too;
- operators are the upper-case keywords `NOT` > `AND` > `OR` (that precedence), with parentheses;
  adjacent terms are joined by AND: `food poisoning` is `food AND poisoning` and `recall NOT test` is
  `recall AND NOT test` (write the quotes for the phrase);
- lower-case `and`, `or`, `not` (any case but upper) are refused rather than read as words: `recall or
  lawsuit` would otherwise silently require the word "or". Write `"or"` to search for the word.

Matching follows the brand matcher (`streams.core.matching`): case-insensitive character by character as
`re.IGNORECASE` does it, so `Ærø` matches "ÆRØ" and `straße` matches "STRAẞE" but not "STRASSE" (write
`straße OR strasse` for both); whole words: a term matches where no word character, `@` or `#` precedes it
and no word character follows, so `recall` matches "recall's" and "(recall)" but not "recalls", "#recall"
or "@recall"; `#recall` matches the hashtag only. An apostrophe in a term matches ' and ’ alike ("don’t").
The query's words are NFC-normalised; the post's text is matched as given, as brand names are.

A query that matches the empty text (`NOT test`, `recall OR NOT test`) is refused: it would match nearly
every post about the brand.

Scenario: `parse_query('(refund OR chargeback) AND NOT "thank you"')`
  .matches("Still waiting for my REFUND") -> True
  .matches("refund received, thank  you!") -> False
  .terms() -> ("refund", "chargeback")      # the positive terms, for the alert's evidence
  .explain("refund or chargeback, whatever") -> ("refund", "chargeback")
  str(...) -> '(refund OR chargeback) AND NOT "thank you"'   # canonical, parses back to the same tree
`parse_query("recall OR")` raises ValueError("bad query 'recall OR': expected a term after OR at column 10").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from streams.core.matching import fold_for_search

# ---- the tree --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word, a prefix (`cancel*`: text "cancel", prefix True) or a phrase (`"food poisoning"`: text "food
    poisoning", its words joined by one space). `column` (1-based, in the query) is not part of equality."""

    text: str
    phrase: bool = False
    prefix: bool = False
    column: int = field(default=0, compare=False)

    def __str__(self) -> str:
        if self.phrase:
            return f'"{self.text}"'
        return f"{self.text}*" if self.prefix else self.text


@dataclass(frozen=True)
class Not:
    operand: Node
    column: int = field(default=0, compare=False)

    def __str__(self) -> str:
        inner = str(self.operand)
        return f"NOT ({inner})" if isinstance(self.operand, And | Or) else f"NOT {inner}"


@dataclass(frozen=True)
class And:
    """All of at least two operands; never directly holds another And (the parser flattens)."""

    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)


@dataclass(frozen=True)
class Or:
    """Any of at least two operands; never directly holds another Or (the parser flattens)."""

    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(str(o) for o in self.operands)


Node = Term | Not | And | Or


def matches_empty(node: Node) -> bool:
    """Whether the query matches a text holding none of its terms: `NOT test` -> True, `recall OR NOT test`
    -> True, `recall AND NOT test` -> False. No term matches the empty text (each needs a character)."""
    if isinstance(node, Term):
        return False
    if isinstance(node, Not):
        return not matches_empty(node.operand)
    if isinstance(node, And):
        return all(matches_empty(o) for o in node.operands)
    return any(matches_empty(o) for o in node.operands)


def positive_terms(node: Node, negated: bool = False) -> tuple[Term, ...]:
    """The terms under an even number of NOTs, in query order, each once: `a OR NOT (b AND NOT c) OR a` ->
    (a, c)."""
    found: dict[Term, None] = {}

    def walk(n: Node, neg: bool) -> None:
        if isinstance(n, Term):
            if not neg:
                found.setdefault(n)
        elif isinstance(n, Not):
            walk(n.operand, not neg)
        else:
            for o in n.operands:
                walk(o, neg)

    walk(node, negated)
    return tuple(found)


# ---- the grammar -----------------------------------------------------------------------------------------------

# WORD takes every character a word may hold, and a few it may not (a `*` inside, a leading `-`): `_check_word`
# refuses those with a message that names the character, which a lexer error could not do.
_GRAMMAR = r"""
?start: or_expr
or_expr: and_expr (OR and_expr)*
and_expr: not_expr (AND? not_expr)*
not_expr: NOT not_expr | WORD | PHRASE | LPAR or_expr RPAR

OR: "OR"
AND: "AND"
NOT: "NOT"
LPAR: "("
RPAR: ")"
WORD: /[\w@#'’*\-\u0300-\u036f]+/
PHRASE: /"[^"]*"/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)
_OPERATORS = ("AND", "OR", "NOT")
#: parentheses and NOTs, counted together
MAX_NESTING = 50
_SHOWN_CHARS = 120  # of a bad query, in its error message
# the characters a word may hold after its first letter: word characters, apostrophes, hyphens, combining marks
_WORD_BODY = re.compile(r"[\w'’\-\u0300-\u036f]")


def _fail(text: str, problem: str) -> ValueError:
    # repr keeps the message on one line whatever the query holds (a YAML block scalar may hold newlines)
    shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
    return ValueError(f"bad query {shown!r}: {problem}")


def _check_word(text: str, token: Token) -> Term:
    """`cancel*` -> Term("cancel", prefix=True); `-test` -> ValueError("... a word must start with a letter, a
    digit or '_' at column N (write NOT to exclude a word, double quotes for a phrase)")."""
    word: str = token.value
    start = 1 if word[0] in "@#" else 0
    bad: int | None = None
    if start == len(word):
        raise _fail(text, f"{word!r} at column {token.start_pos + 1} must be followed by a letter, a digit or '_'")
    if not re.match(r"\w", word[start]):
        bad = start
    else:
        for i in range(start + 1, len(word)):
            if not (_WORD_BODY.match(word[i]) or (word[i] == "*" and i == len(word) - 1)):
                bad = i
                break
    if bad is not None:
        char, column = word[bad], token.start_pos + bad + 1
        if char == "*":
            problem = f"'*' at column {column} may only end a word (cancel*)"
        elif char in "@#" and bad > 0:
            problem = f"{char!r} at column {column} may only start a word (@handle, #hashtag)"
        elif start and bad == start:
            problem = f"{word[0]!r} at column {column - 1} must be followed by a letter, a digit or '_'"
        else:
            problem = (
                f"a word must start with a letter, a digit or '_' at column {column} "
                "(write NOT to exclude a word, double quotes for a phrase)"
            )
        raise _fail(text, problem)
    prefix = word.endswith("*")
    bare = unicodedata.normalize("NFC", word.removesuffix("*"))
    if bare.upper() in _OPERATORS and bare != bare.upper():
        raise _fail(
            text,
            f"{bare!r} at column {token.start_pos + 1} is not an operator: write {bare.upper()}, "
            f'or "{bare}" in double quotes to search for the word',
        )
    return Term(bare, prefix=prefix, column=token.start_pos + 1)


def _build(text: str, tree: Tree | Token, depth: int = 0) -> Node:
    """The lark tree as our nodes, nested ANDs and ORs flattened: `a AND (b AND c)` -> And((a, b, c))."""
    if isinstance(tree, Token):
        if tree.type == "WORD":
            return _check_word(text, tree)
        words = tree.value[1:-1].split()
        if not words:
            raise _fail(text, f"empty phrase at column {tree.start_pos + 1}")
        return Term(unicodedata.normalize("NFC", " ".join(words)), phrase=True, column=tree.start_pos + 1)
    children = tree.children
    if tree.data == "not_expr":
        first = children[0]
        if isinstance(first, Token) and first.type in ("NOT", "LPAR"):
            # a bound far beyond any real query, so that no recursion (here, in matching, in str) runs out of stack
            if depth == MAX_NESTING:
                raise _fail(text, f"nested deeper than {MAX_NESTING} levels at column {first.start_pos + 1}")
            if first.type == "NOT":
                return Not(_build(text, children[1], depth + 1), column=first.start_pos + 1)
            return _build(text, children[1], depth + 1)
        return _build(text, first, depth)
    operands = [_build(text, c, depth) for c in children if not (isinstance(c, Token) and c.type in ("AND", "OR"))]
    if len(operands) == 1:
        return operands[0]
    kind = And if tree.data == "and_expr" else Or
    flat: list[Node] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, kind) else (o,))
    return kind(tuple(flat))


def _tokens_before(text: str, pos: int) -> list[Token]:
    tokens = []
    try:
        for token in _PARSER.lex(text):
            if token.start_pos >= pos:
                break
            tokens.append(token)
    except UnexpectedInput:
        pass
    return tokens


def _syntax_problem(text: str, error: UnexpectedInput) -> str:
    """What is wrong where, from lark's error and the tokens before it: `recall OR` -> "expected a term
    after OR at column 10"; `(a OR b` -> "'(' at column 1 is never closed"."""
    if isinstance(error, UnexpectedCharacters):
        char, column = text[error.pos_in_stream], error.pos_in_stream + 1
        if char == '"':
            return f"unterminated quote at column {column}"
        if char in "“”„«»":
            return f'{char!r} at column {column}: phrases take straight double quotes ("food poisoning")'
        return f"unexpected {char!r} at column {column} (put words with punctuation in double quotes)"
    assert isinstance(error, UnexpectedToken)
    token = error.token
    at_end = token.type == "$END"
    pos = len(text.rstrip()) if at_end else token.start_pos
    before = _tokens_before(text, pos)
    previous = before[-1].type if before else None
    column = pos + 1
    if previous in _OPERATORS and (at_end or token.type in ("AND", "OR", "RPAR")):
        return f"expected a term after {previous} at column {column}"
    if token.type in ("AND", "OR"):
        return f"expected a term before {token.type} at column {column}"
    if previous == "LPAR" and (at_end or token.type == "RPAR"):
        return f"empty parentheses at column {before[-1].start_pos + 1}"
    if token.type == "RPAR":
        return f"')' at column {column} has no matching '('"
    if at_end:
        opened = []
        for t in before:
            if t.type == "LPAR":
                opened.append(t.start_pos)
            elif t.type == "RPAR" and opened:
                opened.pop()
        if opened:
            return f"'(' at column {opened[-1] + 1} is never closed"
    return f"unexpected {token.value!r} at column {column}"


# ---- matching --------------------------------------------------------------------------------------------------

# As in streams.core.matching: no word character, @ or # before a term, no word character after it.
_BEFORE = r"(?<![\w@#])"
_AFTER = r"(?!\w)"
_APOSTROPHE = re.compile(r"['’]")

#: (text, folded text) -> whether the (sub)query holds
Check = Callable[[str, str], bool]


def term_pattern(term: Term) -> re.Pattern[str]:
    """`cancel*` -> (?<![\\w@#])cancel\\w*(?!\\w); `"food poisoning"` -> ...food\\s+poisoning...; IGNORECASE."""
    words = [_APOSTROPHE.sub("['’]", re.escape(w)) for w in term.text.split()]
    body = r"\s+".join(words) + (r"\w*" if term.prefix else "")
    return re.compile(_BEFORE + body + _AFTER, re.IGNORECASE)


def _needle(term: Term) -> str:
    """A folded piece every match of the term contains, its longest run without whitespace or apostrophe:
    `"Food poisoning"` -> "poisoning", `don't` -> "don" (an apostrophe matches ' and ’, so it cannot be in it)."""
    pieces = [p for w in term.text.split() for p in _APOSTROPHE.split(w) if p]
    return fold_for_search(max(pieces, key=len, default=""))  # `"'"` has no piece: "" is in every text


def _term_check(term: Term) -> Check:
    needle, search = _needle(term), term_pattern(term).search

    def check(text: str, folded: str) -> bool:
        # the substring test rules out most posts at a fraction of the pattern's cost
        return needle in folded and search(text) is not None

    return check


def _compile(node: Node, checks: dict[Term, Check]) -> Check:
    if isinstance(node, Term):
        if node not in checks:
            checks[node] = _term_check(node)
        return checks[node]
    if isinstance(node, Not):
        inner = _compile(node.operand, checks)
        return lambda text, folded: not inner(text, folded)
    parts = tuple(_compile(o, checks) for o in node.operands)
    if isinstance(node, And):

        def all_of(text: str, folded: str) -> bool:
            for part in parts:  # noqa: SIM110 (a loop, not all() over a generator: this is the hot path)
                if not part(text, folded):
                    return False
            return True

        return all_of

    def any_of(text: str, folded: str) -> bool:
        for part in parts:  # noqa: SIM110
            if part(text, folded):
                return True
        return False

    return any_of


def _fold(text: str) -> str:
    # ASCII text has nothing for fold_for_search's table, and casefold equals lower there (which is faster)
    return text.lower() if text.isascii() else fold_for_search(text)


@dataclass(frozen=True)
class Query:
    """A parsed query, compiled to one precompiled pattern per distinct term behind a substring test; immutable,
    hashable (by source and tree), safe to share across threads; pickles as its source. Built by `parse_query`."""

    source: str
    expression: Node
    _check: Check = field(repr=False, compare=False)
    _positive: tuple[tuple[str, Check], ...] = field(repr=False, compare=False)

    def matches(self, text: str) -> bool:
        """A post's text: `recall OR "food poisoning"` on "Food  poisoning after flight 12" -> True."""
        return self._check(text, _fold(text))

    def terms(self) -> tuple[str, ...]:
        """The positive terms as the canonical query writes them: `recall OR "food poisoning" AND NOT test`
        -> ("recall", '"food poisoning"')."""
        return tuple(name for name, _ in self._positive)

    def explain(self, text: str) -> tuple[str, ...]:
        """Which of `terms()` occur in the text (whether or not the whole query matches): `recall OR lawsuit OR
        cancel*` on "Lawsuit over the cancelled flight" -> ("lawsuit", "cancel*")."""
        folded = _fold(text)
        return tuple(name for name, check in self._positive if check(text, folded))

    def __str__(self) -> str:
        return str(self.expression)

    def __reduce__(self) -> tuple[Callable[[str], Query], tuple[str]]:
        return parse_query, (self.source,)


def parse_query(text: str) -> Query:
    """`(refund OR chargeback) AND NOT "thank you"` -> Query(And((Or((refund, chargeback)), Not("thank you"))));
    a bad query raises ValueError with a one-line message that gives the column (1-based, counted in `text`):
    "bad query 'recall OR': expected a term after OR at column 10"."""
    if not text.strip():
        raise _fail(text, "the query is empty at column 1")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _fail(text, _syntax_problem(text, error)) from None
    expression = _build(text, tree)
    if matches_empty(expression):
        raise _fail(
            text,
            f"it matches the empty text, so nearly every post (the NOT at column {_culprit(expression)} "
            "needs a term that must appear beside it)",
        )
    checks: dict[Term, Check] = {}
    check = _compile(expression, checks)
    positive = tuple((str(t), checks[t]) for t in positive_terms(expression))
    return Query(text, expression, check, positive)


def _culprit(node: Node) -> int:
    """The column of a NOT that makes a query match the empty text: `recall OR NOT test` -> 11."""
    if isinstance(node, Not):
        return node.column
    assert isinstance(node, And | Or)
    return _culprit(next(o for o in node.operands if matches_empty(o)))
