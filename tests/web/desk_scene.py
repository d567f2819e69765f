"""The desk side of the sync Chromium modules (Playwright's sync API owns the main thread's loop, so the desk runs
on a loop thread): a scene whose exit stack holds the desk and whatever the module starts with it, the session
cookie of a card holder's Web eID login, and a page of a fresh browser context holding that session in the locale
and time zone the module chooses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from playwright.sync_api import Page

from tests.helpers.loop_thread import LoopThread
from tests.web.conftest import Desk

VIEWPORT = {"width": 1280, "height": 720}


class DeskScene:
    """A loop thread and an exit stack on it; a module's scene starts its desk (`self.desk`) and the rest on
    `self.stack` through `self.loop.run(...)`. `close()` unwinds the stack, then stops the loop."""

    desk: Desk

    def __init__(self) -> None:
        self.loop = LoopThread()
        self.stack = AsyncExitStack()

    def cookie(self, who: str) -> str:
        """The `ad_session` cookie of `who`'s login with their card (`cards[who]`)."""

        async def login() -> str:
            async with self.desk.client() as client:
                assert (await self.desk.login(client, who)).status == 200
                return next(c.value for c in client.cookie_jar if c.key == "ad_session")

        return self.loop.run(login())

    def close(self) -> None:
        try:
            self.loop.run(self.stack.aclose())
        finally:
            self.loop.close()


@contextmanager
def logged_in_page(
    chromium: Callable[..., Any], scene: DeskScene, who: str, *, locale: str, timezone_id: str
) -> Iterator[Page]:
    """A page of a new 1280×720 context in `locale` and `timezone_id`, logged in on the scene's desk as `who`;
    the context is closed after."""
    context = chromium().new_context(viewport=VIEWPORT, locale=locale, timezone_id=timezone_id)
    context.add_cookies([{"name": "ad_session", "value": scene.cookie(who), "url": scene.desk.url}])
    try:
        yield context.new_page()
    finally:
        context.close()
