"""QA's login journey in Chromium against the demo desk: eID bridge + SoftHSM card + OCSP, wrong PIN, the desk,
state changes, language, logout; then the refusals a user must understand (revoked card, no bridge)."""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from playwright.sync_api import Page, expect

VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture
def page(chromium, demo_desk) -> Page:
    context = chromium().new_context(viewport=VIEWPORT, locale="nl-BE")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def _start_login(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("body[data-ready='1']")).to_be_visible()
    page.get_by_test_id("login-eid").click()
    expect(page.get_by_test_id("pin-input")).to_be_visible()


def test_agent_logs_in_with_eid_works_and_logs_out(page: Page, demo_desk, artifacts):
    _start_login(page, demo_desk.url)
    page.get_by_test_id("pin-input").fill("0000" if demo_desk.pin != "0000" else "1111")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-code", "pin_incorrect")
    expect(error).to_contain_text("Verkeerde pincode")

    page.get_by_test_id("pin-input").fill(demo_desk.pin)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("agent-name")).to_have_text("An Peeters")
    expect(page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")

    state = page.get_by_test_id("agent-state")
    state.select_option("available")
    expect(state).to_have_attribute("data-state", "available")
    state.select_option("break")
    expect(state).to_have_attribute("data-state", "break")
    page.reload()  # the server, not the page, holds the state
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "break")
    expect(page.get_by_test_id("desk-connection")).to_have_attribute("data-status", "open")
    page.get_by_test_id("agent-state").select_option("available")
    expect(page.get_by_test_id("agent-state")).to_have_attribute("data-state", "available")
    page.screenshot(path=str(artifacts / "desk-1280x720-nl.png"))

    page.get_by_test_id("lang-switch").select_option("fr")
    expect(page.locator("#phone-title")).to_have_text("Téléphone")
    expect(page.get_by_test_id("logout")).to_have_text("Se déconnecter")
    page.screenshot(path=str(artifacts / "desk-1280x720-fr.png"))
    page.reload()  # the language is the agent's, stored server-side
    expect(page.locator("#phone-title")).to_have_text("Téléphone")
    page.get_by_test_id("lang-switch").select_option("nl")
    expect(page.locator("#phone-title")).to_have_text("Telefoon")

    # Nothing scrolls at 720p: the desk fits the screen.
    overflow = page.evaluate("document.documentElement.scrollHeight - window.innerHeight")
    assert overflow <= 0

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-eid")).to_be_visible()
    assert page.request.get(f"{demo_desk.url}/api/me").status == 401


def test_revoked_card_is_refused_in_the_agents_language(page: Page, demo_desk):
    cert = x509.load_pem_x509_certificate(demo_desk.cert.read_bytes())
    revoked = demo_desk.directory / "revoked.txt"
    before = revoked.read_text()
    revoked.write_text(before + f"{cert.serial_number}\n")
    try:
        _start_login(page, demo_desk.url)
        page.get_by_test_id("lang-switch").select_option("fr")
        page.get_by_test_id("pin-input").fill(demo_desk.pin)
        page.get_by_test_id("login-submit").click()
        error = page.get_by_test_id("login-error")
        expect(error).to_have_attribute("data-code", "cert_revoked")
        expect(error).to_contain_text("révoquée")
    finally:
        revoked.write_text(before)


def test_no_bridge_tells_how_to_start_it(page: Page, demo_desk):
    page.route(re.compile(rf"http://127\.0\.0\.1:{demo_desk.bridge_port}/.*"), lambda route: route.abort())
    page.goto(demo_desk.url)
    expect(page.locator("body[data-ready='1']")).to_be_visible()
    page.get_by_test_id("lang-switch").select_option("nl")
    page.get_by_test_id("login-eid").click()
    error = page.get_by_test_id("login-error")
    expect(error).to_have_attribute("data-code", "bridge_unavailable")
    expect(error).to_contain_text("agent-desktop eid-bridge")
