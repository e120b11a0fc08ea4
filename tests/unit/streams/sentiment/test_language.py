"""The post's language: the source's tag when it names one, else a guess; never an empty code."""

from streams.sentiment.language import LanguageGuesser

GUESSER = LanguageGuesser()


def test_the_sources_tag_wins_and_a_tag_without_a_language_is_ignored():
    assert GUESSER.language("whatever", "en-GB") == "en"
    assert GUESSER.language("Flyet var forsinket igjen, elendig service", None) == "no"
    for empty in ("-", " ", "-GB"):
        assert GUESSER.language("Flyet var forsinket igjen, elendig service", empty) == "no"
    assert GUESSER.language("  ", "-") == "und"
