"""The one error type of the knowledge base client, with a stable `code` the desk can map to its own answers."""

from __future__ import annotations

# code -> HTTP status the JSON API answers with; the HTTP backend maps statuses back to these codes.
STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "too_large": 413,
    "timeout": 504,
    "unavailable": 503,
    "bad_response": 502,
}


class KbError(Exception):
    """A failure the caller should show or log by `code`: bad_request, unauthorized, forbidden, not_found,
    too_large, timeout (the backend did not answer in time), unavailable (connection refused, 5xx, database
    locked), bad_response (the remote answered something that is not the KB API). `status` is the HTTP status
    when one was involved."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    @property
    def http_status(self) -> int:
        return STATUS_BY_CODE.get(self.code, 500)
