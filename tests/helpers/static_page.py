"""A blank Chromium page at a made-up origin whose /static/ files come from disk through Playwright's router: for
testing the front end's ES modules by themselves, with nothing of the desk running."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, Route

ROOT = Path(__file__).resolve().parents[2] / "agent_desktop"
ORIGIN = "http://desk.test"
TYPES = {".js": "text/javascript", ".json": "application/json"}


def _serve(route: Route) -> None:
    """The blank page, and the static files from disk."""
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    file = ROOT / path.lstrip("/")
    if path == "/":
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>modules</title>")
    elif path.startswith("/static/") and file.is_file():
        route.fulfill(status=200, content_type=TYPES.get(file.suffix, "text/plain"), body=file.read_bytes())
    else:
        route.fulfill(status=404, body="not here")


@contextmanager
def static_page(browser: Browser) -> Iterator[Page]:
    """The page, open at ORIGIN in its own context (nl-BE, Brussels), closed afterwards."""
    context = browser.new_context(locale="nl-BE", timezone_id="Europe/Brussels")
    context.route("**/*", _serve)
    page = context.new_page()
    try:
        page.goto(f"{ORIGIN}/")
        yield page
    finally:
        context.close()
