"""Dialog state (RFC 3261 §12): identifiers, CSeq counters, route set, remote target; builds in-dialog requests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .headers import NameAddr, SipUri, parse_name_addr
from .message import SipMessage

__all__ = ["Dialog", "new_tag", "new_call_id"]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


@dataclass(slots=True)
class Dialog:
    call_id: str
    local: NameAddr  # our From in requests we send (carries our tag)
    remote: NameAddr  # their To in requests we send (carries their tag once known)
    remote_target: SipUri
    local_cseq: int
    remote_cseq: int | None = None
    route_set: list[str] = field(default_factory=list)

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str | None:
        return self.remote.tag

    def matches(self, msg: SipMessage) -> bool:
        """Whether a request from the peer belongs here: Call-ID, our tag in To and the peer's in From (§12.2.2).

        The endpoint finds the dialog by Call-ID and our tag; the peer's tag is checked here so that someone who
        learnt those two (they travel in every request) cannot end or change another party's call.
        """
        return (
            msg.call_id == self.call_id
            and (msg.to.tag or "") == self.local_tag
            and (msg.from_.tag or None) == (self.remote_tag or None)
        )

    def next_hop(self) -> SipUri:
        """Loose routing (RFC 3261 §12.2.1.1): the first Route when there is one, else the remote target."""
        if self.route_set:
            return parse_name_addr(self.route_set[0]).uri
        return self.remote_target

    def request(
        self, method: str, *, via: str, contact: str, user_agent: str, cseq: int | None = None
    ) -> SipMessage:
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        req = SipMessage(method=method, uri=str(self.remote_target))
        req.add("Via", via)
        for route in self.route_set:
            req.add("Route", route)
        req.add("Max-Forwards", "70")
        req.add("From", str(self.local))
        req.add("To", str(self.remote))
        req.add("Call-ID", self.call_id)
        req.add("CSeq", f"{cseq} {method}")
        req.add("Contact", contact)
        req.add("User-Agent", user_agent)
        return req
