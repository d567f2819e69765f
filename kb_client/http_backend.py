"""KnowledgeBase over HTTP: asks another desk's (or a central KB's) `/api/kb` with a bearer token.

`base_url` is that server's root (e.g. https://kb.example.be); the client appends `/api/kb/...`. Every request
has its own total timeout; failures become KbError with a code the desk can show: unauthorized (401, the token
was refused), forbidden (403), not_found, bad_request, timeout, unavailable (refused connection, 5xx),
bad_response (an answer that is not the KB API). The token never appears in an error message.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp

from .base import DEFAULT_LIMIT, check_feedback_text, check_search_args
from .errors import KbError
from .model import Item, SearchPage, item_from_json, page_from_json

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "too_large",
}


class HttpKnowledgeBase:
    def __init__(
        self,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self._api = base_url.rstrip("/") + "/api/kb"
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s

    async def search(
        self, q: str, tab: str = "articles", skill: str | None = None, limit: int = DEFAULT_LIMIT
    ) -> SearchPage:
        check_search_args(tab, limit)
        params = {"q": q, "tab": tab, "limit": str(limit)}
        if skill:
            params["skill"] = skill
        _, data = await self._request("GET", "/search", params=params)
        try:
            return page_from_json(data)
        except ValueError as exc:
            raise KbError(
                "bad_response", f"{self._api}/search answered an invalid search page: {exc}"
            ) from exc

    async def get(self, item_id: str) -> Item | None:
        try:
            _, data = await self._request("GET", f"/items/{_quote(item_id)}")
        except KbError as exc:
            if exc.code == "not_found":
                return None
            raise
        try:
            return item_from_json(data)
        except ValueError as exc:
            raise KbError("bad_response", f"{self._api}/items answered an invalid item: {exc}") from exc

    async def record_use(self, item_id: str, agent_id: int | None = None, skill: str | None = None) -> None:
        body: dict[str, Any] = {}
        if skill:
            body["skill"] = skill
        if agent_id is not None:
            body["agent_id"] = agent_id
        await self._request("POST", f"/items/{_quote(item_id)}/used", json_body=body)

    async def feedback(self, item_id: str, text: str, agent_id: int | None = None) -> int:
        body: dict[str, Any] = {"item_id": item_id, "text": check_feedback_text(text)}
        if agent_id is not None:
            body["agent_id"] = agent_id
        _, data = await self._request("POST", "/feedback", json_body=body)
        feedback_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(feedback_id, int) or isinstance(feedback_id, bool):
            raise KbError("bad_response", f"{self._api}/feedback answered no integer id")
        return feedback_id

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, params: dict[str, str] | None = None, json_body: Any = None
    ) -> tuple[int, Any]:
        if self._session is None:
            # Created on first use: a ClientSession must be made inside the running loop.
            self._session = aiohttp.ClientSession()
        url = self._api + path
        try:
            async with self._session.request(
                method, url, params=params, json=json_body, headers=self._headers, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise KbError("timeout", f"{url} did not answer within {self._timeout_s} s") from exc
        except aiohttp.ClientError as exc:
            raise KbError("unavailable", f"cannot reach {url}: {exc}") from exc
        if status >= 400:
            raise _status_error(url, status, raw)
        if not raw:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError as exc:
            raise KbError("bad_response", f"{url} answered status {status} without JSON", status) from exc


def _status_error(url: str, status: int, raw: bytes) -> KbError:
    message = ""
    try:
        error = json.loads(raw).get("error", {})
        message = str(error.get("message", ""))
    except (ValueError, AttributeError):
        pass
    if status == 401:
        return KbError(
            "unauthorized", f"{url} refused the token (401){': ' + message if message else ''}", status
        )
    if status >= 500:
        return KbError("unavailable", f"{url} failed with status {status}", status)
    code = _CODE_BY_STATUS.get(status, "bad_request")
    return KbError(code, f"{url} answered {status}{': ' + message if message else ''}", status)


def _quote(item_id: str) -> str:
    return quote(item_id, safe="")
