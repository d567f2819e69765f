"""Folding, tokenising and the MATCH expression built from user input."""

from __future__ import annotations

from kb_client.sqlite_schema import MARK
from kb_client.text import fold, match_expression, plain_text, shorten, tokenize


def test_fold_strips_diacritics_and_case() -> None:
    assert fold("Reëel Coëfficiënt PRIVÉ Gefeliciteerd") == "reeel coefficient prive gefeliciteerd"


def test_tokenize_splits_on_punctuation_and_underscore() -> None:
    assert tokenize("e-mail: info@example.be, foo_bar (x)") == [
        "e",
        "mail",
        "info",
        "example",
        "be",
        "foo",
        "bar",
        "x",
    ]


def test_match_expression_quotes_every_term_and_prefixes_the_last() -> None:
    assert match_expression("Afspraak  annul") == '"afspraak" "annul"*'


def test_match_expression_neutralises_fts_syntax() -> None:
    expression = match_expression('title:x AND (y OR "z") NEAR(a b) ^c -d *')
    assert expression == '"title" "x" "and" "y" "or" "z" "near" "a" "b" "c" "d"*'


def test_match_expression_without_terms_is_none() -> None:
    assert match_expression("  *:()\"'  ") is None


def test_marker_character_never_reaches_a_query() -> None:
    assert match_expression(f"{MARK}tarticle") == '"tarticle"*'


def test_plain_text_and_shorten() -> None:
    assert plain_text("# Titel\n\n- **vet** en [link](https://x.example.be)\n") == "Titel vet en link"
    assert shorten("een twee drie vier", 10) == "een twee…"
    assert shorten("kort", 10) == "kort"
