"""Errors of the eID room, each with the stable `code` of the interface contract (DESIGN.md §6)."""

from __future__ import annotations


class EidError(Exception):
    """A refusal the user must understand: `code` is stable, `message` is English for logs (the page translates
    by code), `details` holds safe extras such as `tries_left`. Never put a national number in any of them."""

    def __init__(self, code: str, message: str, details: dict | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}

    def to_json(self) -> dict:
        body: dict = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}
