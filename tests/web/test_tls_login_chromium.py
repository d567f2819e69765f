"""The login page's "Log in with the eID in your browser" in Chromium, through the real nginx of
tests/web/tls_desk.py: with a client certificate the button lands on the desk; without one the page says why, in
the agent's language. Headless Chromium has no certificate picker, so the certificate is Playwright's
`client_certificates` (Playwright's driver makes the TLS connection with it on the page's behalf): what is tested
is the page, nginx and the desk, not Chromium's own certificate selection. Sync module: Playwright owns the main
thread's loop; the desk, nginx and the OCSP responder run on a loop thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager

import pytest
from playwright.sync_api import Page, expect

from agent_desktop.eid.pki import create_pki
from tests.helpers.loop_thread import LoopThread
from tests.web.tls_desk import NO_REUSED_HEADER, TlsDesk, tls_desk_running

pytestmark = pytest.mark.timeout(90)


def _running(tmp_path, tls_pki, **kw) -> Iterator[TlsDesk]:
    loop = LoopThread()
    stack = AsyncExitStack()
    try:
        yield loop.run(stack.enter_async_context(tls_desk_running(tmp_path, tls_pki, create_pki(), **kw)))
    finally:
        loop.run(stack.aclose())
        loop.close()


@pytest.fixture
def tls_desk(tmp_path, tls_pki) -> Iterator[TlsDesk]:
    yield from _running(tmp_path, tls_pki)


@pytest.fixture
def silent_proxy_desk(tmp_path, tls_pki) -> Iterator[TlsDesk]:
    """nginx does not say whether the TLS session was resumed: every browser login is refused (fail closed)."""
    yield from _running(tmp_path, tls_pki, nginx_changes=NO_REUSED_HEADER)


@contextmanager
def _login_page(chromium, desk: TlsDesk, card: str | None, locale: str) -> Iterator[Page]:
    """The desk's login page, ready, in a new `locale` context presenting `card`'s certificate (or none)."""
    certificates = []
    if card is not None:
        c = desk.cards[card]
        certificates = [{"origin": desk.url, "certPath": str(c.cert_file), "keyPath": str(c.key_file)}]
    # The proxy's certificate is self-signed for 127.0.0.1; Chromium is not told to trust it.
    context = chromium().new_context(
        client_certificates=certificates,
        ignore_https_errors=True,
        locale=locale,
        timezone_id="Europe/Brussels",
    )
    try:
        page = context.new_page()
        page.goto(f"{desk.url}/")
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        yield page
    finally:
        context.close()


def test_the_browser_button_logs_the_card_holder_in(chromium, tls_desk):
    with _login_page(chromium, tls_desk, "agent", "nl-BE") as page:
        button = page.get_by_test_id("login-tls")
        expect(button).to_have_text("Aanmelden met de eID in uw browser")
        button.click()
        expect(page.get_by_test_id("agent-name")).to_have_text("Els Maes", timeout=10000)


def test_without_a_certificate_the_page_says_so_in_the_agents_language(chromium, tls_desk):
    with _login_page(chromium, tls_desk, None, "fr-BE") as page:
        page.get_by_test_id("login-tls").click()
        error = page.get_by_test_id("login-error")
        expect(error).to_have_attribute("data-code", "client_cert_missing")
        expect(error).to_contain_text("Votre navigateur n'a envoyé aucun certificat eID")
        page.get_by_test_id("lang-switch").select_option("en")
        expect(error).to_contain_text("Your browser sent no eID certificate")


def test_a_login_not_proven_fresh_is_explained_in_the_agents_language(chromium, silent_proxy_desk):
    with _login_page(chromium, silent_proxy_desk, "agent", "nl-BE") as page:
        page.get_by_test_id("login-tls").click()
        error = page.get_by_test_id("login-error")
        expect(error).to_have_attribute("data-code", "tls_session_resumed")
        expect(error).to_contain_text("Deze browser hernam een eerdere beveiligde verbinding")
        page.get_by_test_id("lang-switch").select_option("fr")
        expect(error).to_contain_text("Ce navigateur a repris une connexion sécurisée antérieure")
        page.get_by_test_id("lang-switch").select_option("en")
        expect(error).to_contain_text("This browser resumed an earlier secure connection")
        expect(page.get_by_test_id("agent-name")).to_have_count(0)
