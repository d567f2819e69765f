"""The supervisor's call-lists page (DESIGN.md §11): progress per list, the CSV upload, the export, a list's orders
and the do-not-call register. A shell only: the page (static/js/call_lists.js) works through the call-orders API.

    GET /supervisor/orders   (role supervisor; others the page's refusal, 403)
"""

from __future__ import annotations

from aiohttp import web

from .pages import render_role_page, role_page

ROLE = "supervisor"
TEMPLATE = "orders.html"


def setup(app: web.Application) -> None:
    app.router.add_get("/supervisor/orders", orders_page)


@role_page(ROLE, TEMPLATE)
async def orders_page(request: web.Request) -> web.Response:
    return render_role_page(request, TEMPLATE)
