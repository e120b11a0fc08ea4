"""The words and hashtags of a post, and the bounded counter that keeps a bucket's most frequent ones.

A term is a lower-cased run of letters and digits, with at least one letter and at least three characters,
not a stopword of the post's language. Any other character separates terms: "Nordair's" is "nordair" and
"s", "check-in" is "check" and "in". URLs, @mentions and the host of an e-mail address are not terms; a
hashtag is counted as `#tag`, never as a term, and an all-digit "#123" is no hashtag (as on X). Each
distinct term counts once per post.

The stopword lists are those of the `stop-words` package (BSD-3-Clause): English (less a few words that a
brand's wall needs: "down", "fix", "problem", ...), Danish, Norwegian and Swedish. English is removed from
every post, because Nordic posts mix in English; the three Nordic lists are removed from every post that is
not English, because the language guesser confuses Danish and Norwegian (and a short Nordic post may be
guessed as another language), while in an English post they would remove real words ("dog", "hit", "bra").

A bucket keeps its top terms with the Space-Saving algorithm (Metwally, Agrawal and El Abbadi, "Efficient
computation of frequent and top-k elements in data streams", 2005): a fixed number of (term, count) entries;
a term not among them replaces the one of lowest count and starts from that count plus one.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from functools import lru_cache, partial
from operator import itemgetter, neg

from stop_words import get_stop_words

from schemas.records import MAX_TERM_CHARS, TermCount

# letters and digits; the underscore splits words like any other punctuation
_ALNUM = re.compile(r"[^\W_]+")
# the words a post is tokenized into (shorter runs are no terms); `\w` is much faster than `[^\W_]`, so the
# rare words with an underscore are split afterwards
_WORD = re.compile(r"\w{3,}")


def _stop_pieces(lang: str) -> frozenset[str]:
    """A language's stopwords as the tokenizer sees them: "don't" is "don" and "t", both removed."""
    return frozenset(piece for word in get_stop_words(lang) for piece in _ALNUM.findall(word.lower()))


# The English list is long (1,300 words, made for searching documents) and removes words that say what went
# wrong for a brand's customers: those stay terms.
_KEPT = frozenset(
    {"bill", "call", "down", "early", "fire", "fix", "free", "full", "help", "high", "line", "low", "miss", "open"}
    | {"problem", "problems", "site", "website", "working"}
)
# "amp" and "quot" are the remains of HTML entities ("&amp;") that some sources leave in the text
_EVERYWHERE = (_stop_pieces("en") - _KEPT) | {"amp", "quot"}
_NORDIC = _EVERYWHERE | _stop_pieces("da") | _stop_pieces("nb") | _stop_pieces("sv")

# URLs and @mentions (with the dots of "@user@mastodon.social"; of an e-mail address, the part after the @).
# Every pattern here starts with a literal or a class, never with a look-behind or a repeat: `re` then
# tries it only where that first character is, which makes the scan several times faster.
_NOT_TEXT = re.compile(r"https?://\S+|www\.\S+|@\w+(?:[.@-]\w+)*")
# "#" not inside a word or after another "#", then the tag, which has a letter: "#2024" is no hashtag (as on X)
_HASHTAG = re.compile(r"#(?<![\w#]#)(\w*[^\W\d_]\w*)")


def stopwords(lang: str) -> frozenset[str]:
    """The stopwords removed from a post in `lang`: "en" -> English; "da", "no", "sv", "und" or any other ->
    English, Danish, Norwegian and Swedish."""
    return _EVERYWHERE if lang == "en" else _NORDIC


@lru_cache(maxsize=256)  # a post naming two brands is folded twice, once per brand: tokenize it once
def terms_of(text: str, lang: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The distinct terms and hashtags of a post, each sorted (so that folding them is deterministic).

    Scenario: ("Lost my bag AGAIN @nordair, 3h in Oslo! Flight A320neo https://x.co/a #fail #NordAir #2024",
    "en") -> (("a320neo", "bag", "flight", "lost", "oslo"), ("#fail", "#nordair")): "my", "again" and "in" are
    stopwords, "3h" is too short, the mention, the URL and the all-digit hashtag go.
    ("Flyet er forsinket igjen, og ingen svarer på telefonen", "no") -> (("flyet", "forsinket", "igjen",
    "svarer", "telefonen"), ()).
    """
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)  # "å" typed as "a" + ring is one letter, as it reads
    text = text.lower()
    if "@" in text or "://" in text or "www." in text:
        text = _NOT_TEXT.sub(" ", text)
    hashtags: tuple[str, ...] = ()
    if "#" in text:
        hashtags = tuple(sorted({f"#{t}" for t in _HASHTAG.findall(text) if len(t) <= MAX_TERM_CHARS}))
        text = _HASHTAG.sub(" ", text)
    words = set(_WORD.findall(text))
    # what follows is written so that a text that needs no fixing pays for no Python loop over its words
    if "_" in text:
        joined = {w for w in words if "_" in w}
        words -= joined
        words.update(piece for w in joined for piece in _ALNUM.findall(w) if len(piece) > 2)
    words -= stopwords(lang)
    numbers = set(filter(str.isnumeric, words))
    if numbers:
        words -= numbers
    if words and max(map(len, words)) > MAX_TERM_CHARS:
        words = {w for w in words if len(w) <= MAX_TERM_CHARS}
    return tuple(sorted(words)), hashtags


_TERM = itemgetter(0)
_COUNT = itemgetter(1)
_term_count = partial(tuple.__new__, TermCount)  # TermCount from a (term, count) pair, without a Python call

# The working lists of the tuples `space_saving` returned, by the tuple's id (the entry holds the tuple, so the
# id stays its own): the next post into the same bucket takes them over instead of building them again from
# the tuple, which costs more than counting the post. Only speed depends on it: a tuple not found (a bucket
# read back from its table, or an older state counted again) is rebuilt. Bounded: the oldest entry goes; the
# worker reads its buckets anew for each batch, so only the buckets of the current batch are worth keeping.
_working: dict[int, tuple[tuple[TermCount, ...], int, list[TermCount], list[tuple[int, str]], dict[str, int]]] = {}
_WORKING_KEPT = 256


def space_saving(top: tuple[TermCount, ...], terms: Iterable[str], keep: int) -> tuple[TermCount, ...]:
    """Count `terms` (one post's, distinct) into a bucket's ranked entries (`rank_terms` order), keeping at
    most `keep`.

    Scenario, keep 2: () + ("crew", "delay") -> (crew 1, delay 1); + ("delay",) -> (delay 2, crew 1);
    + ("gate",) -> gate takes crew's place: (delay 2, gate 2). Of the entries of lowest count, the one ranked
    last (highest term) goes, so the same terms in the same order always give the same entries.
    """
    if keep <= 0:
        return ()
    if not terms:
        return top
    found = _working.pop(id(top), None)
    if found is not None and found[0] is top and found[1] == keep:
        entries, keys, counts = found[2], found[3], found[4]
    else:
        # `keys` holds (-count, term) of each entry: the rank order, for bisect. Built with C-level calls.
        entries = list(top[:keep])
        names = list(map(_TERM, entries))
        keys = list(zip(map(neg, map(_COUNT, entries)), names, strict=True))
        counts = dict(zip(names, map(_COUNT, entries), strict=True))
    for term in terms:
        count = counts.get(term)
        if count is not None:
            i = bisect_left(keys, (-count, term))
            del keys[i], entries[i]
            count += 1
        elif len(entries) < keep:
            count = 1
        else:  # the entry ranked last goes: the lowest count, then the highest term
            keys.pop()
            evicted, count = entries.pop()
            del counts[evicted]
            count += 1
        counts[term] = count
        key = (-count, term)
        i = bisect_left(keys, key)
        keys.insert(i, key)
        entries.insert(i, _term_count((term, count)))
    counted = tuple(entries)
    if len(_working) >= _WORKING_KEPT:
        _working.pop(next(iter(_working), None), None)
    _working[id(counted)] = (counted, keep, entries, keys, counts)
    return counted
