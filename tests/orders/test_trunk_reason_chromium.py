"""The wall's `outbound_failing` reason in words (dial_failure.js `trunkFailureText`), in Chromium from disk: every
failure the trunk watch keeps (`refused 503`, `no_response`, …) reads as a phrase about the trunk in nl, fr and en,
never the desk's code; an unknown one is "a network failure". The journey against the real desk is
e2e/test_trunk_down_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.helpers.static_page import static_page

REASONS = ["refused 503", "refused", "no_response", "unresolved", "no_route", "no_media", "weird 7", None]


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    with static_page(chromium()) as page:
        yield page


def test_every_trunk_failure_reads_as_words_in_each_language(page: Page) -> None:
    got = page.evaluate(
        """async (reasons) => {
            const i18n = await import("/static/js/i18n.js");
            const { trunkFailureText } = await import("/static/js/dial_failure.js");
            const out = {};
            for (const lang of ["nl", "fr", "en"]) {
                await i18n.loadLang(lang);
                out[lang] = reasons.map((r) => trunkFailureText(r));
            }
            return out;
        }""",
        REASONS,
    )
    assert got["en"] == [
        "refused by the trunk (SIP 503)",
        "refused by the trunk",
        "no answer from the trunk",
        "the trunk's address does not resolve",
        "no trunk is configured",
        "no audio port free on the desk",
        "a network failure",
        "a network failure",
    ], got
    assert got["nl"][:3] == [
        "geweigerd door de trunk (SIP 503)",
        "geweigerd door de trunk",
        "geen antwoord van de trunk",
    ]
    assert got["fr"][:3] == [
        "refusés par le trunk (SIP 503)",
        "refusés par le trunk",
        "pas de réponse du trunk",
    ]
    for lang, texts in got.items():
        for text in texts:
            # A key that fell through, or a code shown as it is.
            assert "wall." not in text and "_" not in text and "{" not in text, (lang, text)
