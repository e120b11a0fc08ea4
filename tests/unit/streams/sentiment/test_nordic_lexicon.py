"""The Nordic lexicon files: what they hold, how they merge, and that every shipped file carries its licence."""

from __future__ import annotations

import pytest

from streams.sentiment.nordic_lexicon import (
    AFINN_TO_VADER,
    DANISH_FALSE_FRIENDS,
    LEXICON_DIR,
    as_lexicon,
    lexicon_for,
    merged,
    nynorsk_spellings,
    read_tsv,
)

DATA_FILES = ("AFINN-da-32.txt", "AFINN-no-165.txt", "AFINN-sv-165.txt", "vader-sv-1.0.3.txt", "asent-emoji-v1.json")
LICENCES = ("LICENSE_AFINN_Apache-2.0.txt", "LICENSE_asent_MIT.txt", "LICENSE_vaderSentiment-swedish_MIT.txt")


def test_every_shipped_file_is_described_with_a_licence_beside_it():
    readme = (LEXICON_DIR / "README.md").read_text("utf-8")
    shipped = {p.name for p in LEXICON_DIR.iterdir()}
    assert shipped == {*DATA_FILES, *LICENCES, "README.md"}
    for name in (*DATA_FILES, *LICENCES):
        assert f"`{name}`" in readme, name
    assert "Apache License" in (LEXICON_DIR / "LICENSE_AFINN_Apache-2.0.txt").read_text("utf-8")
    for mit in LICENCES[1:]:
        assert "MIT License" in (LEXICON_DIR / mit).read_text("utf-8")


def test_read_tsv_keeps_the_first_two_fields_and_the_first_entry(tmp_path):
    path = tmp_path / "lex.txt"
    path.write_text("God\t3\t0.5\t[3, 3]\n\nelendig\t-3\ngod\t1\n", "utf-8")
    assert read_tsv(path) == {"god": 3.0, "elendig": -3.0}


def test_merged_lets_earlier_sources_win():
    assert merged({"a": 1.0}, {"a": 2.0, "b": 3.0}) == {"a": 1.0, "b": 3.0}


def test_phrases_are_indexed_by_their_first_two_words():
    lexicon = as_lexicon({"god": 3.0, "ved et uhell": -2.0, "ved siden av": 0.5})
    assert lexicon.phrase_at(["det", "skjedde", "ved", "et", "uhell"], 2) == ("ved", "et", "uhell")
    assert lexicon.phrase_at(["ved", "et"], 0) is None
    assert lexicon.phrase_at(["ved", "bordet"], 0) is None
    assert lexicon.phrase_at(["ved"], 0) is None


@pytest.mark.parametrize(
    ("bokmal", "nynorsk"),
    [("dårlig", ("dårleg",)), ("skuffet", ("skuffa",)), ("spennende", ("spennande",)), ("dårligste", ("dårlegaste",))],
)
def test_nynorsk_spellings_of_bokmal_endings(bokmal, nynorsk):
    assert nynorsk_spellings(bokmal) == nynorsk


def test_short_words_and_phrases_get_no_nynorsk_spelling():
    assert nynorsk_spellings("god") == () and nynorsk_spellings("ved et uhell") == ()


def test_the_norwegian_lexicon_holds_nynorsk_spellings_danish_words_and_no_false_friends():
    no = lexicon_for("no")
    assert no.words["dårleg"] == no.words["dårlig"] and no.respelled["dårleg"] == "dårlig"
    assert no.words["søde"] == lexicon_for("da").words["søde"]
    assert no.words["rar"] < 0  # the Norwegian list's own "rar" (strange), not Danish "rar" (sweet)
    assert all(w not in no.words or w == "rar" for w in DANISH_FALSE_FRIENDS)


def test_the_swedish_lexicon_prefers_vader_and_scales_afinn():
    sv = lexicon_for("sv")
    vader = read_tsv(LEXICON_DIR / "vader-sv-1.0.3.txt")
    afinn = read_tsv(LEXICON_DIR / "AFINN-sv-165.txt")
    assert sv.words["bra"] == vader["bra"]
    only_afinn = next(w for w in afinn if w not in vader)
    assert sv.words[only_afinn] == pytest.approx(afinn[only_afinn] * AFINN_TO_VADER)


def test_every_language_has_emoji_and_service_failure_words():
    for language, delayed in (("da", "forsinkelse"), ("no", "avlyst"), ("sv", "försening")):
        words = lexicon_for(language).words
        assert words[delayed] < 0
        assert words["😢"] < 0 < words["😀"]


def test_a_language_without_a_lexicon_is_refused():
    with pytest.raises(ValueError):
        lexicon_for("de")
