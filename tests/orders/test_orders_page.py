"""The supervisor's call-lists page (`/supervisor/orders`): a supervisor gets it with its parts and a top-bar link
marked current; an agent without the role gets the page's own refusal (403), and no link to it."""

from __future__ import annotations

from tests.web.conftest import Desk


async def test_supervisors_get_the_call_lists_page_and_agents_its_refusal(desk: Desk) -> None:
    async with desk.client() as sup, desk.client() as agent, desk.client() as anon:
        assert (await desk.login(sup, "supervisor")).status == 200
        assert (await desk.login(agent, "agent")).status == 200
        page = await sup.get(f"{desk.url}/supervisor/orders")
        assert page.status == 200
        html = await page.text()
        for testid in ("orders-lists", "orders-upload", "orders-upload-error", "dnc-list"):
            assert f'data-testid="{testid}"' in html, testid
        assert (
            'data-testid="orders-link" data-i18n="nav.orders" data-role="supervisor" aria-current="page"'
            in html
        )
        assert 'data-testid="orders-link"' in await (await sup.get(f"{desk.url}/supervisor")).text()

        refused = await agent.get(f"{desk.url}/supervisor/orders")
        assert refused.status == 403
        html = await refused.text()
        assert 'data-testid="orders-forbidden"' in html and 'data-testid="orders-upload"' not in html
        assert 'data-testid="orders-link"' not in html
        first = await anon.get(f"{desk.url}/supervisor/orders", allow_redirects=False)
        assert (first.status, first.headers["Location"]) == (302, "/")
