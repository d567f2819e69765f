"""Folding, tokenising and the MATCH expression built from user input."""

from __future__ import annotations

from kb_client.sqlite_schema import MARK
from kb_client.text import body_text, fold, match_expression, plain_text, shorten, tokenize


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


def test_plain_text_reads_tables_as_cells() -> None:
    table = "| | Centrum | Infolijn |\n|---|:--:|---|\n| maandag–vrijdag | 8.30–19.30 | 8–18 |\n"
    assert plain_text(table) == "Centrum · Infolijn maandag–vrijdag · 8.30–19.30 · 8–18"


def test_body_text_leaves_out_a_heading_that_repeats_the_title() -> None:
    assert (
        body_text("# Certificat de vaccination\n\nLe certificat…", "Certificat de vaccination")
        == "Le certificat…"
    )
    assert body_text("# Openingsuren\n\nOpen.", "Openingsuren van het centrum") == "Open."
    assert body_text("# Andere kop\n\nTekst.", "Titel") == "Andere kop Tekst."
    assert body_text("Tekst zonder kop.", "Titel") == "Tekst zonder kop."
