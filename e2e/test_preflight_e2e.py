"""The preflight in Chromium against the demo desk (loopback-only namespace, fake microphone fed from a WAV):
a full run at 1280×720 passes the screen, browser, microphone and network rows and yields a report ID; a
1024×600 screen fails the screen row; a page without microphone permission fails the microphone row with its
advice; the helpdesk (the demo agent) opens the report by its ID, a plain agent cannot. Also: the page's E-model
gives the CLI's numbers.

Denying the microphone: the shared fixture starts Chromium with --use-fake-ui-for-media-stream, which accepts
every getUserMedia prompt, and Chromium ignores a "denied" permission set over CDP while that flag is on. What
still refuses is the document's Permissions-Policy (`microphone=()`): Chromium then rejects getUserMedia with
NotAllowedError and reports the permission as denied, the same answer a blocked site gets. The test adds that
header to the /preflight response with Playwright's routing (and grants Local Network Access, which a routed
document loses); the page is unchanged.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from agent_desktop.cli import enrol_certificate
from agent_desktop.config import load_config
from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.pki import issue_auth_cert, load_pki
from hardware_check.emodel import estimate_mos, r_factor
from hardware_check.report import validate_report
from tests.helpers.webeid import make_token
from tests.preflight.audio_tools import write_speech_like_wav

VIEWPORT = {"width": 1280, "height": 720}
RUN_TIMEOUT_MS = 90_000
ID = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$")
FINAL = re.compile(r"^(pass|warn|fail|unknown)$")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_speech_like_wav(tmp_path_factory.mktemp("audio") / "speech.wav")


@pytest.fixture(scope="module")
def browser(chromium, speech_wav: Path) -> Browser:
    return chromium(audio_wav=str(speech_wav))


def new_page(browser: Browser, size: dict = VIEWPORT, locale: str = "nl-BE") -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=size, screen=size, locale=locale)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def row(page: Page, name: str):
    return page.get_by_test_id(f"preflight-check-{name}")


def open_preflight(page: Page, url: str) -> None:
    page.goto(f"{url}/preflight")
    expect(page.locator("body[data-ready='1'][data-state='idle']")).to_be_visible()


def run_preflight(page: Page, answer_speaker: bool = True) -> None:
    page.get_by_test_id("preflight-run").click()
    if answer_speaker:
        page.get_by_test_id("preflight-speaker-yes").click(timeout=30_000)
    expect(page.locator("body[data-state='done']")).to_be_visible(timeout=RUN_TIMEOUT_MS)


@pytest.fixture(scope="module")
def full_run(browser: Browser, demo_desk, artifacts: Path) -> dict:
    """One complete run at 1280×720 with the fake headset; what the page showed, for several tests."""
    context, page = new_page(browser)
    try:
        open_preflight(page, demo_desk.url)
        run_preflight(page)
        statuses = {
            name: row(page, name).get_attribute("data-status")
            for name in [r.get_attribute("data-check") for r in page.locator("tr[data-check]").all()]
        }
        report_id = page.get_by_test_id("preflight-report-id").inner_text().strip()
        with page.expect_download() as download:
            page.get_by_test_id("preflight-download").click()
        report = json.loads(Path(download.value.path()).read_text())
        page.screenshot(path=str(artifacts / "preflight-1280x720-nl.png"))
        return {
            "statuses": statuses,
            "id": report_id,
            "report": report,
            "ice": row(page, "webrtc").get_attribute("data-ice"),
            "mic_max": float(page.get_by_test_id("mic-level").get_attribute("data-max")),
            "overflow": page.evaluate("document.documentElement.scrollHeight - window.innerHeight"),
            "advice_mic": row(page, "microphone").locator(".advice-text").count(),
            "mic_test_detail": row(page, "mic_test").get_attribute("title") or "",
            "mic_test_advice": row(page, "mic_test").locator(".advice-text").count(),
            "run_s": float(page.locator("body").get_attribute("data-run-s")),
            "intro": page.get_by_test_id("preflight-intro").inner_text(),
        }
    finally:
        context.close()


def test_full_run_at_720p_passes_screen_browser_microphone_and_network(full_run):
    statuses = full_run["statuses"]
    assert list(statuses) == [
        "cpu", "memory", "screen", "browser", "microphone", "speaker", "headset", "mic_test", "eid_reader",
        "network_rtt", "network_jitter", "network_loss", "throughput_down", "throughput_up", "webrtc",
    ]  # fmt: skip
    for name in (
        "screen", "browser", "microphone", "speaker", "mic_test", "eid_reader",
        "network_rtt", "network_jitter", "network_loss", "throughput_down", "throughput_up", "webrtc",
    ):  # fmt: skip
        assert statuses[name] == "pass", (name, statuses)
    assert all(FINAL.match(s) for s in statuses.values())
    # Chromium's fake devices are not named like a headset: a warning, not a failure.
    assert statuses["headset"] == "warn"
    assert full_run["ice"] == "host"
    assert full_run["mic_max"] > 0.3  # the live meter moved with the "speech"
    assert full_run["advice_mic"] == 0
    assert full_run["overflow"] <= 0  # nothing scrolls at 1280×720


def mic_levels(detail: str) -> dict[str, float]:
    numbers = {
        "speech": r"speech (-?[\d.]+) dBFS",
        "noise": r"noise floor (-?[\d.]+) dBFS",
        "frames": r"(\d+) frames of 20 ms",
        "clipped": r"clipped ([\d.]+) %",
    }
    found = {name: re.search(pattern, detail) for name, pattern in numbers.items()}
    assert all(found.values()), detail
    return {name: float(m.group(1)) for name, m in found.items()}


def test_mic_test_measures_every_frame_of_the_speech_like_wav(full_run):
    """The WAV's syllables are about -21 dBFS, its pauses a -65 dBFS hiss: the page must find both, over every
    20 ms frame of the 3 s (150), in a headless tab."""
    levels = mic_levels(full_run["mic_test_detail"])
    assert levels["frames"] >= 145, full_run["mic_test_detail"]
    assert -25 <= levels["speech"] <= -18, full_run["mic_test_detail"]
    assert -70 <= levels["noise"] <= -60, full_run["mic_test_detail"]
    assert levels["clipped"] == 0
    assert full_run["statuses"]["mic_test"] == "pass" and full_run["mic_test_advice"] == 0


def test_intro_says_how_long_the_run_takes(full_run):
    seconds = int(re.search(r"ongeveer (\d+) seconden", full_run["intro"]).group(1))
    # "About": the run (answering the tone at once) lands within 5 s of what the page announced.
    assert abs(full_run["run_s"] - seconds) <= 5, (seconds, full_run["run_s"])


def test_default_fake_microphone_gets_one_coherent_verdict(chromium, demo_desk, artifacts):
    """Chromium's own fake microphone (no WAV): a 20 ms beep reaching full scale every 500 ms, digital silence
    between. Loud (it is at full scale: the microphone clips) and never "too weak" at the same time."""
    context, page = new_page(chromium())
    try:
        open_preflight(page, demo_desk.url)
        run_preflight(page)
        mic = row(page, "mic_test")
        detail = mic.get_attribute("title") or mic.locator(".detail").inner_text()
        levels = mic_levels(detail)
        assert levels["frames"] >= 145, detail
        # The beeps, and the silence between; a good share of the beeps' samples sit at full scale.
        assert levels["speech"] >= -10 and levels["noise"] <= -90, detail
        assert levels["clipped"] > 5, detail
        expect(mic).to_have_attribute("data-status", "warn")
        advice = mic.locator(".advice-text")
        expect(advice).to_have_count(1)
        expect(advice).to_contain_text("oversteu")
        page.screenshot(path=str(artifacts / "preflight-fake-beep-mic-nl.png"))
    finally:
        context.close()


def test_report_is_saved_with_a_phone_readable_id_and_downloadable(full_run):
    assert ID.match(full_run["id"])
    report = validate_report(full_run["report"])
    assert report.source == "browser"
    assert [c.status for c in report.checks] == list(full_run["statuses"].values())
    webrtc = report.get("webrtc")
    assert 4.0 <= webrtc.value <= 4.5 and "ICE candidate host" in webrtc.detail
    assert report.get("screen").value == "1280x720"
    assert report.get("browser").value.startswith("chromium ")
    moved = float(re.search(r"([\d.]+) MB moved", report.get("throughput_down").detail).group(1))
    assert 0 < moved < 5


def test_small_screen_fails_the_screen_row(browser, demo_desk, artifacts):
    size = {"width": 1024, "height": 600}
    context, page = new_page(browser, size)
    try:
        open_preflight(page, demo_desk.url)
        page.get_by_test_id("preflight-run").click()
        screen = row(page, "screen")
        expect(screen).to_have_attribute("data-status", "fail")
        expect(screen.locator(".value")).to_have_text("1024 × 600 px")
        expect(screen.locator(".advice-text")).to_contain_text("minstens 1280 × 720")
        page.screenshot(path=str(artifacts / "preflight-1024x600-screen-fail.png"))
    finally:
        context.close()


def deny_microphone(route: Route) -> None:
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "permissions-policy": "microphone=()"})


def test_without_microphone_permission_the_mic_row_fails_with_its_advice(browser, demo_desk, artifacts):
    context, page = new_page(browser, locale="fr-BE")
    # A document Playwright fulfils has no network address, so Chromium's Local Network Access checks treat it
    # as public and would block its requests to 127.0.0.1 (the desk, the eID bridge): grant what the real
    # page served from 127.0.0.1 has anyway.
    context.grant_permissions(["local-network-access"])
    try:
        page.route(f"{demo_desk.url}/preflight", deny_microphone)
        page.goto(f"{demo_desk.url}/preflight")
        expect(page.locator("body[data-ready='1']")).to_be_visible()
        page.get_by_test_id("lang-switch").select_option("fr")
        assert (
            page.evaluate("navigator.permissions.query({name: 'microphone'}).then(p => p.state)") == "denied"
        )
        page.get_by_test_id("preflight-run").click()
        mic = row(page, "microphone")
        expect(mic).to_have_attribute("data-status", "fail")
        expect(mic.locator(".advice-text").first).to_have_text(re.compile("^Aucun microphone n'a été trouvé"))
        expect(mic.locator(".advice-text").nth(1)).to_contain_text("cadenas")
        expect(mic.locator(".detail")).to_contain_text("NotAllowedError")
        expect(row(page, "mic_test")).to_have_attribute("data-status", "unknown")
        expect(page.get_by_test_id("preflight-mic-prompt")).to_contain_text("microphone")
        page.get_by_test_id("preflight-speaker-yes").click(timeout=30_000)
        expect(page.locator("body[data-state='done']")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        expect(page.get_by_test_id("preflight-overall")).to_have_attribute("data-status", "fail")
        expect(page.get_by_test_id("preflight-report-id")).to_have_text(ID)
        page.screenshot(path=str(artifacts / "preflight-no-mic-fr.png"))
        # Only the microphone is refused: the rest of the run is as good as ever.
        for name in ("eid_reader", "network_rtt", "throughput_up", "webrtc"):
            expect(row(page, name)).to_have_attribute("data-status", "pass")
    finally:
        context.close()


def login_demo_agent(page: Page, demo_desk) -> None:
    page.goto(demo_desk.url)
    expect(page.locator("body[data-ready='1']")).to_be_visible()
    page.get_by_test_id("login-eid").click()
    page.get_by_test_id("pin-input").fill(demo_desk.pin)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("agent-name")).to_have_text("An Peeters")


def test_helpdesk_opens_the_report_by_its_id(browser, demo_desk, full_run, artifacts):
    context, page = new_page(browser)
    try:
        login_demo_agent(page, demo_desk)  # An Peeters has the helpdesk role
        page.goto(f"{demo_desk.url}/helpdesk")
        expect(page.locator("body[data-ready='1']")).to_be_visible()
        page.get_by_test_id("helpdesk-search").fill(
            full_run["id"].lower()[:3] + " " + full_run["id"][3:].lower()
        )
        rows = page.get_by_test_id("helpdesk-report-row")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", full_run["id"])
        rows.first.click()
        report = page.get_by_test_id("helpdesk-report")
        expect(report).to_be_visible()
        expect(report).to_have_attribute("data-id", full_run["id"])
        expect(page.get_by_test_id("helpdesk-check-screen")).to_have_attribute("data-status", "pass")
        expect(page.get_by_test_id("helpdesk-check-webrtc")).to_contain_text("MOS")
        expect(page.get_by_test_id("helpdesk-check-headset")).to_have_attribute("data-status", "warn")
        expect(page.get_by_test_id("helpdesk-check-headset")).to_contain_text("headset")  # its advice
        page.screenshot(path=str(artifacts / "helpdesk-1280x720.png"))
        # The failing filter narrows the list: this run failed nothing.
        page.get_by_test_id("helpdesk-failing").select_option("any")
        expect(page.get_by_test_id("helpdesk-list-status")).to_contain_text("0")
    finally:
        context.close()


def test_plain_agent_cannot_open_the_report(browser, demo_desk, full_run):
    pki = load_pki(demo_desk.directory / "pki")
    cert, key = issue_auth_cert(
        pki, given_name="Piet", surname="Janssens", nrn=make_test_nrn(date(1988, 2, 3), 77), key_type="rsa"
    )
    enrol_certificate(load_config(demo_desk.config), cert, ["agent"], [])
    context, page = new_page(browser)
    try:
        challenge = context.request.post(f"{demo_desk.url}/api/login/challenge", data={})
        token = make_token(cert, key, challenge.json()["nonce"], demo_desk.url)
        login = context.request.post(f"{demo_desk.url}/api/login", data=token)
        assert login.ok, login.text()
        assert login.json()["roles"] == ["agent"]

        response = page.goto(f"{demo_desk.url}/helpdesk")
        assert response.status == 403
        expect(page.get_by_test_id("helpdesk-forbidden")).to_be_visible()
        expect(page.get_by_test_id("helpdesk-search")).to_have_count(0)
        api = context.request.get(f"{demo_desk.url}/api/preflight/reports/{full_run['id']}")
        assert api.status == 403
        assert api.json()["error"]["code"] == "forbidden"
        listing = context.request.get(f"{demo_desk.url}/api/preflight/reports?id={full_run['id']}")
        assert listing.json()["reports"] == []
    finally:
        context.close()
    anonymous = browser.new_context()
    try:
        assert anonymous.request.get(f"{demo_desk.url}/api/preflight/reports/{full_run['id']}").status == 401
    finally:
        anonymous.close()


def test_page_emodel_gives_the_clis_numbers(browser, demo_desk):
    context, page = new_page(browser)
    try:
        open_preflight(page, demo_desk.url)
        grid = [
            (one_way, jitter, loss, codec)
            for one_way in (0.0, 20.0, 75.0, 160.0, 300.0, 700.0)
            for jitter in (0.0, 5.0, 30.0)
            for loss in (0.0, 0.5, 3.0, 20.0, 100.0)
            for codec in ("opus", "g711", "g711_noplc", "g729")
        ]
        got = page.evaluate(
            """async (grid) => {
                const m = await import('/static/js/preflight-emodel.js');
                return grid.map(([d, j, l, c]) => [m.rFactor(d, j, l, c), m.estimateMos(d, j, l, c)]);
            }""",
            grid,
        )
        for (one_way, jitter, loss, codec), (r, mos) in zip(grid, got, strict=True):
            assert r == pytest.approx(r_factor(one_way, jitter, loss, codec), abs=1e-9)
            assert mos == pytest.approx(estimate_mos(one_way, jitter, loss, codec), abs=1e-9)
    finally:
        context.close()


def test_page_switches_language(browser, demo_desk):
    context, page = new_page(browser, locale="en-GB")
    try:
        open_preflight(page, demo_desk.url)
        page.get_by_test_id("lang-switch").select_option("fr")
        expect(page.get_by_test_id("preflight-run")).to_have_text("Lancer le test")
        expect(row(page, "screen").locator("th")).to_have_text("Écran")
        page.get_by_test_id("lang-switch").select_option("nl")
        expect(row(page, "memory").locator("th")).to_have_text("Werkgeheugen")
    finally:
        context.close()


def test_cli_report_uploaded_from_an_agents_pc_opens_on_the_helpdesk_page(browser, demo_desk, tmp_path):
    """The helpdesk runs `hardware-check --upload` on the agent's PC (here: this headless box, SoftHSM as the
    reader) and then opens the report the agent reads out over the phone."""
    import os
    import subprocess
    import sys

    conf = next(demo_desk.directory.glob("tokens/*/softhsm2.conf"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardware_check",
            "--server",
            demo_desk.url,
            "--upload",
            "--json",
            "--module",
            "/usr/lib/softhsm/libsofthsm2.so",
            "--lang",
            "en",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )
    assert result.returncode in (1, 2), result.stderr  # no sound card here: never all-pass
    report = validate_report(json.loads(result.stdout))
    assert report.get("eid_reader").status == "pass"  # the demo card, read through PKCS#11
    report_id = re.search(r"\b([2-9A-HJ-NP-Z]{6})\b", result.stderr).group(1)
    context, page = new_page(browser)
    try:
        login_demo_agent(page, demo_desk)
        page.goto(f"{demo_desk.url}/helpdesk")
        expect(page.locator("body[data-ready='1']")).to_be_visible()
        page.get_by_test_id("helpdesk-search").fill(report_id)
        rows = page.get_by_test_id("helpdesk-report-row")
        expect(rows).to_have_count(1)
        rows.first.click()
        expect(page.get_by_test_id("helpdesk-report")).to_have_attribute("data-id", report_id)
        expect(page.get_by_test_id("helpdesk-check-eid_reader")).to_have_attribute("data-status", "pass")
        expect(page.get_by_test_id("helpdesk-check-microphone")).to_have_attribute("data-status", "fail")
    finally:
        context.close()
