"""One call leg: an INVITE dialog and its RTP stream, inbound or outbound (RFC 3261 §13-15, RFC 3264, RFC 3515).

The endpoint routes every message of the dialog here; the call owns its stream and, for an outbound call, the one
task that runs the INVITE transaction. `on_state` is called synchronously on every state change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..logmask import mask_in, mask_number
from .addresses import is_ip, is_wildcard, plain, uri_host
from .dialog import Dialog, new_call_id, new_tag
from .headers import NameAddr, SipUri
from .message import SipMessage
from .rtp import RtpStream, open_rtp_stream
from .sdp import Negotiated, NoCommonCodec, answer_for, apply_answer, build_sdp, new_session_id, parse_sdp
from .transaction import ClientTransaction, ServerTransaction, make_response
from .transport import Addr

if TYPE_CHECKING:
    from .endpoint import SipEndpoint

__all__ = ["Call", "CallState"]

log = logging.getLogger(__name__)

CallState = Literal["offered", "dialing", "ringing", "connected", "held", "ended"]
# Why an outbound call never reached the callee's phone (`Call.network_failure`): no route to send it (no trunk
# configured), the trunk's name does not resolve, no RTP port free here, no answer at all to the INVITE (Timer B),
# or the network refused it before any ringing (401/403/407/408/5xx: the trunk or a proxy behind it; a 6xx is
# the callee's own answer).
NetworkFailure = Literal["no_route", "unresolved", "no_media", "no_response", "refused"]
# Final statuses that, before any 180/183, are the network's refusal and say nothing of the callee.
_NETWORK_STATUSES = frozenset({401, 403, 407, 408})
Direction = Literal["inbound", "outbound"]

_CODECS = [(0, "PCMU"), (8, "PCMA")]
_CODEC_PT = {"PCMU": 0, "PCMA": 8}
_GLARE_RETRIES = 3  # re-INVITEs answered 491 are tried again this many times (RFC 3261 §14.1)


class Call:
    """A SIP call leg. Public: the contract's attributes and coroutines; everything `_`-prefixed is the endpoint's."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        direction: Direction,
        call_id: str,
        remote_number: str,
        local_number: str,
        state: CallState,
    ) -> None:
        self.call_id = call_id
        self.direction: Direction = direction
        self.remote_number = remote_number
        self.local_number = local_number
        self.state: CallState = state
        self.cause: str | None = None
        self.final_status: int | None = None  # an outbound INVITE's final failure response (404, 486, …)
        self.network_failure: NetworkFailure | None = None  # an outbound call that never reached the callee
        self.rang = False  # an outbound INVITE got a 180/183: the trunk took it to the callee's phone
        # An outbound INVITE's final failure is the callee's own answer (404, 486, 6xx…) before any ringing: neither
        # the network's refusal nor the answer to our CANCEL (the agent's hang-up, the ring time-out).
        self.callee_refused = False
        self.on_state: Callable[[Call], None] | None = None
        self.media: RtpStream | None = None
        self.transferred_to: str | None = None
        self.privacy = ""  # an inbound INVITE's Privacy header (RFC 3323): "id" withholds the caller's number
        self.negotiated: Negotiated | None = None
        self._ep = endpoint
        self._dialog: Dialog | None = None
        self._addr: Addr | None = None  # next hop of the dialog
        self._stx: ServerTransaction | None = None  # inbound INVITE / latest re-INVITE server transaction
        self._ctx: ClientTransaction | None = None  # outbound INVITE client transaction
        self._reinvite: ClientTransaction | None = None  # our latest re-INVITE (glare: §14.2)
        self._offer: Negotiated | None = None
        self._ended = asyncio.Event()
        self._offer_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task | None = None
        self._hangup_requested = False
        self._answering: asyncio.Future[None] | None = None  # the one answer in progress (inbound)
        self._sdp_session = new_session_id()
        self._sdp_version = 0
        self._local_direction = "sendrecv"
        self._notify: asyncio.Future[int] | None = None
        self._lock = asyncio.Lock()  # one re-INVITE/REFER at a time

    def __repr__(self) -> str:
        return f"<Call {self.direction} {self.remote_number} {self.state} {self.call_id}>"

    # --- state ---------------------------------------------------------------------------------------
    def _set_state(self, state: CallState, cause: str | None = None) -> None:
        if self.state == "ended" or (state == self.state and cause is None):
            return
        self.state = state
        if state == "ended":
            self.cause = cause
            if self._offer_timer is not None:
                self._offer_timer.cancel()
            if self.media is not None:
                self.media.close()
            self._ep._forget(self)
            self._ended.set()
        cb = self.on_state
        if cb is not None:
            try:
                cb(self)
            except Exception:
                log.exception("on_state callback failed")

    async def wait_ended(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 (contract API)
        await asyncio.wait_for(self._ended.wait(), timeout)

    @property
    def ended(self) -> bool:
        return self.state == "ended"

    # --- helpers -------------------------------------------------------------------------------------
    def _sdp(
        self, direction: str, codecs: list[tuple[int, str]] | None = None, dtmf: int | None = 101
    ) -> bytes:
        assert self.media is not None
        self._sdp_version += 1
        # our media address in the family of the peer's: its SDP's (answer, re-offer), else its signalling's
        peer = (
            self.negotiated.remote_host
            if self.negotiated
            else self._offer.remote_host
            if self._offer
            else None
        )
        if peer is None or is_wildcard(peer) or not is_ip(plain(peer)):
            peer = self._addr.host if self._addr is not None else self._ep.advertise
        return build_sdp(
            address=self._ep.local_host(peer),
            port=self.media.local_port,
            session_id=self._sdp_session,
            version=self._sdp_version,
            codecs=codecs or _CODECS,
            dtmf_payload_type=dtmf,
            direction=direction,
            user_agent=self._ep.config.user_agent,
        )

    def _apply(self, neg: Negotiated) -> None:
        self.negotiated = neg
        if self.media is not None:
            self.media.configure(
                codec=neg.codec,
                payload_type=neg.payload_type,
                dtmf_payload_type=neg.dtmf_payload_type,
                remote=(neg.remote_host, neg.remote_port),
                direction=neg.direction,
            )

    def _respond(self, status: int, *, sdp: bytes | None = None, extra: dict[str, str] | None = None) -> None:
        stx = self._stx
        if stx is None:
            return
        assert self._dialog is not None
        resp = make_response(stx.request, status, to_tag=self._dialog.local_tag)
        if 100 < status < 300:
            resp.add("Contact", self._ep.contact(stx.addr))
        resp.add("User-Agent", self._ep.config.user_agent)
        if status < 300 and status > 100:
            resp.add("Allow", self._ep.ALLOW)
        for k, v in (extra or {}).items():
            resp.add(k, v)
        if sdp is not None:
            resp.add("Content-Type", "application/sdp")
            resp.body = sdp
        stx.respond(resp)

    def _send_in_dialog(
        self, method: str, body: bytes = b"", content_type: str | None = None, **headers: str
    ):
        assert self._dialog is not None and self._addr is not None
        req = self._dialog.request(
            method,
            via=self._ep.via(self._addr),
            contact=self._ep.contact(self._addr),
            user_agent=self._ep.config.user_agent,
        )
        for k, v in headers.items():
            req.add(k.replace("_", "-"), v)
        if content_type:
            req.add("Content-Type", content_type)
        req.body = body
        return self._ep.tl.request(req, self._addr)

    async def _final(self, tx: ClientTransaction) -> SipMessage:
        while True:
            resp = await tx.response()
            if resp is not None and (resp.status or 0) >= 200:
                return resp

    # --- inbound -------------------------------------------------------------------------------------
    @classmethod
    def _inbound(cls, ep: SipEndpoint, req: SipMessage, stx: ServerTransaction) -> Call:
        frm = req.from_
        to = req.to
        contact = req.contact
        call = cls(ep, "inbound", req.call_id, frm.uri.user or str(frm.uri), to.uri.user or "", "offered")
        local = to.with_tag(new_tag())
        call.privacy = req.get("Privacy") or ""
        call._dialog = Dialog(
            call_id=req.call_id,
            local=local,
            remote=frm,
            remote_target=contact.uri if contact else frm.uri,
            local_cseq=0,
            remote_cseq=req.cseq[0],
            route_set=req.get_all("Record-Route"),
        )
        call._stx = stx
        call._addr = ep._hop_for(call._dialog, stx.addr)
        stx.on_ack_timeout = call._no_ack
        return call

    def _start_offer_timer(self, seconds: float) -> None:
        self._offer_timer = asyncio.get_running_loop().call_later(seconds, self._offer_expired)

    def _offer_expired(self) -> None:
        if self.state in ("offered", "ringing") and self._stx is not None and not self._stx.final_sent:
            self._respond(480, extra={"Retry-After": "30"})
            self._ep.stats.answered_480 += 1
            self._set_state("ended", "no_answer")

    async def ring(self) -> None:
        """Inbound: 180 Ringing."""
        if self.direction != "inbound" or self.state != "offered":
            return
        # Ringing means the owner has taken the call on: from here its own timers (agent offers, queue) decide.
        if self._offer_timer is not None:
            self._offer_timer.cancel()
        self._respond(180)
        self._set_state("ringing")

    async def answer(self) -> None:
        """Inbound: 200 OK with the SDP answer; RTP flows from here. Two answers at once (a queue's script and an
        agent) share one: each would otherwise bind its own RTP stream and the later one orphan the first."""
        if self.direction != "inbound" or self.state not in ("offered", "ringing"):
            raise RuntimeError(f"cannot answer a call in state {self.state}")
        if self._answering is None:
            self._answering = asyncio.ensure_future(self._answer())
        # Shielded: a waiter cancelled (the queue's music task when the agent answers) leaves the answer going.
        await asyncio.shield(self._answering)

    async def _answer(self) -> None:
        if self._offer_timer is not None:
            self._offer_timer.cancel()
        try:
            self.media = await open_rtp_stream(self._ep.config.listen_host, self._ep.ports)
        except OSError:
            self._respond(503, extra={"Retry-After": "10"})
            self._set_state("ended", "failed")
            raise
        if self.state == "ended":  # cancelled while we bound the socket
            self.media.close()
            return
        if self._offer is not None:
            self._apply(self._offer)
            neg = self._offer
            sdp = self._sdp(neg.direction, [(neg.payload_type, neg.codec)], neg.dtmf_payload_type)
        else:
            sdp = self._sdp("sendrecv")  # late offer: ours goes in the 200, the answer comes in the ACK
        self._respond(200, sdp=sdp)
        self._set_state("connected")

    async def reject(self, code: int = 486) -> None:
        if self.direction != "inbound" or self.state not in ("offered", "ringing"):
            return
        extra = {"Retry-After": "30"} if code in (480, 486, 503) else None
        self._respond(code, extra=extra)
        self._set_state("ended", "rejected")

    def _cancelled(self) -> None:
        """CANCEL from the caller (the endpoint already answered the CANCEL with 200)."""
        if self.state in ("offered", "ringing"):
            self._respond(487)
            self._set_state("ended", "cancelled")

    def _no_ack(self) -> None:
        # 64*T1 without an ACK for our 2xx: the dialog is dead on arrival (RFC 3261 §13.3.1.4)
        if self.state in ("connected", "held"):
            self._send_in_dialog("BYE")
            self._set_state("ended", "failed")

    # --- outbound ------------------------------------------------------------------------------------
    @classmethod
    def _outbound(cls, ep: SipEndpoint, number: str) -> Call:
        call_id = new_call_id(uri_host(ep.advertise))
        call = cls(ep, "outbound", call_id, number, ep.config.caller_id, "dialing")
        return call

    async def _run_outbound(self, number: str, ring_timeout_s: float) -> None:
        ep = self._ep
        failure: NetworkFailure = "no_route"
        try:
            ruri, dest = ep._route_for(number)
            failure = "unresolved"
            addr = await ep._resolve(dest)
            failure = "no_media"
            self.media = await open_rtp_stream(ep.config.listen_host, ep.ports)
        except (OSError, ValueError) as exc:
            log.warning("dial %s failed (%s): %s", mask_number(number), failure, mask_in(str(exc), number))
            self.network_failure = failure
            self._set_state("ended", "failed")
            return
        if self._hangup_requested:
            # Hung up while the name resolved: the INVITE never goes (nothing to CANCEL, nobody rung).
            self._set_state("ended", "local_bye")
            return
        self._addr = addr
        user = ep.config.caller_id or ep.config.username or "anonymous"
        local = NameAddr(
            SipUri("sip", user, dest.host if not is_ip(dest.host) else ep.local_host(addr.host)),
            None,
            {"tag": new_tag()},
        )
        remote = NameAddr(ruri)
        self._dialog = Dialog(
            call_id=self.call_id, local=local, remote=remote, remote_target=ruri, local_cseq=0
        )
        offer = self._sdp("sendrecv")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ring_timeout_s
        auth_header: tuple[str, str] | None = None
        auth_tries = 0
        while True:
            self._dialog.local_cseq += 1
            req = SipMessage(method="INVITE", uri=str(ruri))
            req.add("Via", ep.via(addr))
            req.add("Max-Forwards", "70")
            req.add("From", str(local))
            req.add("To", str(remote))
            req.add("Call-ID", self.call_id)
            req.add("CSeq", f"{self._dialog.local_cseq} INVITE")
            req.add("Contact", ep.contact(addr))
            if ep.config.caller_id:
                req.add("P-Asserted-Identity", f"<sip:{ep.config.caller_id}@{uri_host(local.uri.host)}>")
            req.add("Allow", ep.ALLOW)
            req.add("Supported", "replaces")
            req.add("User-Agent", ep.config.user_agent)
            if auth_header:
                req.add(*auth_header)
            req.add("Content-Type", "application/sdp")
            req.body = offer
            tx = self._ctx = ep.tl.request(req, addr)
            cancel_sent = False
            provisional = False
            while True:
                if self._hangup_requested or loop.time() >= deadline:
                    if provisional and not cancel_sent:
                        self._send_cancel(tx)
                        cancel_sent = True
                try:
                    timeout = max(0.05, deadline - loop.time()) if not cancel_sent else None
                    if self._hangup_requested and not cancel_sent:
                        timeout = 0.2  # wait for a provisional so the CANCEL may go (§9.1)
                    resp = await asyncio.wait_for(tx.response(), timeout)
                except TimeoutError:
                    continue
                if resp is None:
                    continue  # woken by hangup()
                status = resp.status or 0
                if status < 200:
                    provisional = True
                    if status > 100 and self.state == "dialing":
                        self.rang = True
                        self._set_state("ringing")
                    if resp.body and status == 183:
                        with contextlib.suppress(ValueError, NoCommonCodec):
                            self._apply(apply_answer(parse_sdp(resp.body)))  # early media
                    continue
                if status < 300:
                    self._confirm(tx, resp)
                    if self._hangup_requested or cancel_sent:
                        # the 200 crossed our CANCEL: the call exists, end it properly (§15)
                        await self._bye("local_bye" if self._hangup_requested else "no_answer")
                    return
                if status in (401, 407) and auth_tries == 0 and ep.creds is not None:
                    header = ep._authorize(resp, "INVITE", str(ruri))
                    if header is not None:
                        auth_header = header
                        auth_tries += 1
                        break  # re-send with credentials, new CSeq and branch
                self.final_status = status
                if not (cancel_sent or self._hangup_requested) and self.state == "dialing":
                    if tx.timed_out:
                        self.network_failure = "no_response"
                    elif status in _NETWORK_STATUSES or 500 <= status < 600:
                        self.network_failure = "refused"
                    else:
                        self.callee_refused = True
                self._set_state("ended", self._cause_for(status, cancel_sent))
                return

    def _cause_for(self, status: int, cancel_sent: bool) -> str:
        if self._hangup_requested:
            return "local_bye"
        if cancel_sent or status == 487 or (status == 408 and self.state == "ringing"):
            return "no_answer"
        if status == 408:
            return "failed"  # nobody answered at all (Timer B) or a proxy gave up: not a refusal
        if status in (486, 600):
            return "busy"
        if status in (403, 404, 480, 484, 603) or 400 <= status < 500:
            return "rejected"
        return "failed"

    def _send_cancel(self, tx: ClientTransaction) -> None:
        inv = tx.request
        cancel = SipMessage(method="CANCEL", uri=inv.uri)
        cancel.add("Via", inv.get_all("Via")[0])
        for r in inv.get_all("Route"):
            cancel.add("Route", r)
        cancel.add("Max-Forwards", "70")
        cancel.add("From", inv.get("From") or "")
        cancel.add("To", inv.get("To") or "")
        cancel.add("Call-ID", inv.call_id)
        cancel.add("CSeq", f"{inv.cseq[0]} CANCEL")
        cancel.add("User-Agent", self._ep.config.user_agent)
        self._ep.tl.request(cancel, tx.addr)
        tx.cancel_sent()

    def _confirm(self, tx: ClientTransaction, resp: SipMessage) -> None:
        """2xx to our INVITE: complete the dialog, ACK, start media."""
        d = self._dialog
        assert d is not None
        d.remote = resp.to
        contact = resp.contact
        if contact is not None:
            d.remote_target = contact.uri
        d.route_set = list(reversed(resp.get_all("Record-Route")))
        self._addr = self._ep._hop_for(d, tx.addr)
        ack = d.request(
            "ACK",
            via=self._ep.via(self._addr),
            contact=self._ep.contact(self._addr),
            user_agent=self._ep.config.user_agent,
            cseq=tx.request.cseq[0],
        )
        data = ack.to_bytes()
        tx.ack, tx.ack_addr = data, self._addr
        self._ep.tl.send(data, self._addr)
        self._ep._remember(self)
        try:
            self._apply(apply_answer(parse_sdp(resp.body), self._local_direction))
        except (ValueError, NoCommonCodec):
            log.warning("unusable SDP answer on %s", self.call_id)
        self._set_state("connected")

    # --- both directions -----------------------------------------------------------------------------
    async def hangup(self) -> None:
        """BYE when connected, CANCEL while an outbound call rings, 486/480 refusal while one is offered to us."""
        if self.state == "ended":
            return
        if self.state in ("connected", "held"):
            await self._bye("local_bye")
        elif self.direction == "inbound":
            if self._stx is not None and not self._stx.final_sent:
                self._respond(480, extra={"Retry-After": "30"})
            self._set_state("ended", "local_bye")
        else:
            self._hangup_requested = True
            if self._ctx is not None:
                self._ctx.wake()
            if self._task is not None:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._task), 64 * self._ep.tl.t1 + 1)
            self._set_state("ended", "local_bye")

    async def _bye(self, cause: str) -> None:
        tx = self._send_in_dialog("BYE")
        self._set_state("ended", cause)  # media stops now; the BYE's answer does not change the outcome
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._final(tx), 64 * self._ep.tl.t1)

    async def hold(self, on: bool) -> None:
        """re-INVITE with a=sendonly (hold) or a=sendrecv (resume)."""
        if self.state not in ("connected", "held") or self.media is None:
            return
        direction = "sendonly" if on else "sendrecv"
        async with self._lock:
            for attempt in range(_GLARE_RETRIES + 1):
                if self.state not in ("connected", "held"):
                    return  # ended (or its media torn down) while we waited out a glare
                neg = self.negotiated
                codecs = [(neg.payload_type, neg.codec)] if neg else _CODECS
                sdp = self._sdp(direction, codecs, neg.dtmf_payload_type if neg else 101)
                tx = self._reinvite = self._send_in_dialog("INVITE", sdp, "application/sdp")
                resp = await asyncio.wait_for(self._final(tx), 64 * self._ep.tl.t1 + 1)
                status = resp.status or 0
                if status != 491 or attempt == _GLARE_RETRIES:
                    break
                await asyncio.sleep(self._glare_wait())
            if status < 300:
                assert self._dialog is not None and self._addr is not None
                ack = self._dialog.request(
                    "ACK",
                    via=self._ep.via(self._addr),
                    contact=self._ep.contact(self._addr),
                    user_agent=self._ep.config.user_agent,
                    cseq=tx.request.cseq[0],
                )
                tx.ack, tx.ack_addr = ack.to_bytes(), self._addr
                self._ep.tl.send(tx.ack, self._addr)
                self._local_direction = direction
                with contextlib.suppress(ValueError, NoCommonCodec):
                    self._apply(apply_answer(parse_sdp(resp.body), direction))
                if self.state != "ended":
                    self._set_state("held" if on else "connected")
            elif status in (408, 481):
                await self._bye("failed")
            else:
                raise RuntimeError(f"re-INVITE refused: {status} {resp.reason}")

    def _glare_wait(self) -> float:
        """§14.1: the Call-ID's owner (who sent the first INVITE) waits 2.1-4 s, the other 0-2 s, in 10 ms steps."""
        if self.direction == "outbound":
            return random.randint(210, 400) / 100
        return random.randint(0, 200) / 100

    async def send_dtmf(self, digits: str) -> None:
        """RFC 4733 events; SIP INFO (application/dtmf-relay) only if the peer offered no telephone-event."""
        if self.state not in ("connected", "held") or self.media is None:
            return
        if self.media.dtmf_payload_type is not None:
            await self.media.send_dtmf(digits)
            return
        for d in digits:
            body = f"Signal={d}\r\nDuration=160\r\n".encode()
            tx = self._send_in_dialog("INFO", body, "application/dtmf-relay")
            await asyncio.wait_for(self._final(tx), 64 * self._ep.tl.t1 + 1)

    async def transfer(self, target: str, *, notify_wait_s: float = 30.0) -> None:
        """Blind transfer (RFC 3515): REFER, then end our leg when the NOTIFY reports 2xx."""
        if self.state not in ("connected", "held"):
            raise RuntimeError(f"cannot transfer a call in state {self.state}")
        ruri, _ = self._ep._route_for(target)
        async with self._lock:
            self._notify = asyncio.get_running_loop().create_future()
            tx = self._send_in_dialog(
                "REFER",
                Refer_To=f"<{ruri}>",
                Referred_By=f"<sip:{self._ep.config.caller_id or 'desk'}@{uri_host(self._ep.local_host(self._addr.host))}>",
            )
            resp = await asyncio.wait_for(self._final(tx), 64 * self._ep.tl.t1 + 1)
            if (resp.status or 0) >= 300:
                raise RuntimeError(f"REFER refused: {resp.status} {resp.reason}")
            status = await asyncio.wait_for(self._notify, notify_wait_s)
            if status >= 300:
                raise RuntimeError(f"transfer failed: {status}")
            self.transferred_to = target
            if self.state != "ended":
                await self._bye("local_bye")

    # --- in-dialog requests from the peer ------------------------------------------------------------
    def _on_request(self, req: SipMessage, stx: ServerTransaction) -> None:
        d = self._dialog
        assert d is not None
        if not d.matches(req):
            # right Call-ID and our tag but not the peer's tag: not this dialog (§12.2.2), whoever sent it
            stx.respond(make_response(req, 481))
            return
        num = req.cseq[0]
        if d.remote_cseq is not None and num < d.remote_cseq and req.method != "ACK":
            stx.respond(make_response(req, 500, "CSeq out of order"))
            return
        d.remote_cseq = num
        m = req.method
        if m == "BYE":
            stx.respond(make_response(req, 200))
            if self.state in ("offered", "ringing") and self._stx is not None and not self._stx.final_sent:
                self._respond(487)
            self._set_state("ended", "remote_bye")
        elif m == "INVITE":
            self._on_reinvite(req, stx)
        elif m == "INFO":
            stx.respond(make_response(req, 200))
            if (req.get("Content-Type") or "").lower().startswith("application/dtmf-relay"):
                for line in req.body.decode("utf-8", "replace").splitlines():
                    k, _, v = line.partition("=")
                    if k.strip().lower() == "signal" and v.strip() and self.media and self.media.on_dtmf:
                        self.media.on_dtmf(v.strip()[0])
        elif m == "NOTIFY":
            stx.respond(make_response(req, 200))
            self._on_notify(req)
        elif m == "OPTIONS":
            stx.respond(self._ep._options_response(req))
        elif m == "UPDATE":
            stx.respond(make_response(req, 200))  # no SDP changes via UPDATE: session timers only
        else:
            resp = make_response(req, 501)
            resp.add("Allow", self._ep.ALLOW)
            stx.respond(resp)

    def _on_reinvite(self, req: SipMessage, stx: ServerTransaction) -> None:
        if self._stx is not None and not self._stx.final_sent:
            # §14.2: an INVITE while we have not answered the previous one
            resp = make_response(req, 500)
            resp.add("Retry-After", str(random.randint(0, 10)))
            stx.respond(resp)
            return
        if self._reinvite is not None and self._reinvite.state in ("calling", "proceeding"):
            stx.respond(make_response(req, 491))  # §14.2: glare with our own pending re-INVITE
            return
        if self.state not in ("connected", "held") or self.media is None:
            stx.respond(make_response(req, 491 if self.state != "ended" else 481))
            return
        self._stx = stx
        stx.on_ack_timeout = None
        contact = req.contact
        if contact is not None and self._dialog is not None:
            self._dialog.remote_target = contact.uri
        if req.body:
            try:
                neg = answer_for(parse_sdp(req.body))
            except (ValueError, NoCommonCodec):
                self._respond(488)
                return
            self._apply(neg)
            sdp = self._sdp(neg.direction, [(neg.payload_type, neg.codec)], neg.dtmf_payload_type)
        else:
            sdp = self._sdp(self._local_direction)
        self._respond(200, sdp=sdp)

    def _on_ack(self, ack: SipMessage) -> None:
        stx = self._stx
        if self._dialog is None or not self._dialog.matches(ack):
            return
        if stx is not None and stx.request.cseq[0] == ack.cseq[0]:
            stx.ack_received()
            if self._offer is None and ack.body and self.negotiated is None:
                with contextlib.suppress(ValueError, NoCommonCodec):
                    self._apply(apply_answer(parse_sdp(ack.body)))

    def _on_notify(self, req: SipMessage) -> None:
        if not (req.get("Event") or "").lower().startswith("refer") or self._notify is None:
            return
        first = req.body.decode("utf-8", "replace").strip().splitlines()
        if not first:
            return
        parts = first[0].split()
        if len(parts) >= 2 and parts[0].upper() == "SIP/2.0" and parts[1].isdigit():
            status = int(parts[1])
            if status >= 200 and not self._notify.done():
                self._notify.set_result(status)
