"""`POST /api/login/tls`: the second login path of DESIGN.md §1. The agent's browser authenticated the TLS handshake
with the eID card's authentication key (the Belgian eID middleware does that natively); the TLS-terminating proxy
forwards the certificate in `[eid] client_cert_header`. Proof of possession is that handshake, so there is no
challenge here: the certificate goes through the same `verify_certificate` and `open_session` as a Web eID token.

The header is believed only from a peer in `[server] trusted_proxies`. From anyone else it is ignored, as if
absent, and the attempt is audited: on a direct connection it is whatever the client wants it to be.

A resumed TLS session keeps the certificate of the handshake it came from, without the card signing again (no PIN):
after a logout, or for the next person at a shared PC, that is no proof. So unless `[eid] tls_session_reused_header`
is "" the proxy must say "full handshake" in it, or the login is refused with `tls_session_resumed`.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..eid.client_cert import certificate_from_header, require_full_handshake
from ..eid.verify import VerifiedIdentity, verify_certificate
from ..store import audit
from . import keys
from .auth import public
from .errors import ApiError
from .forwarded import from_trusted_proxy, peer_address
from .login_api import open_session

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post("/api/login/tls")
@public
async def login_tls(request: web.Request) -> web.Response:
    app = request.app
    app[keys.LOGIN_LIMIT].check(request)
    header = app[keys.CONFIG].eid.client_cert_header
    if not header:
        raise ApiError(
            "not_found", "this desk does not take TLS client certificates: log in with the eID bridge"
        )
    value = request.headers.get(header, "")
    if value and not from_trusted_proxy(request):
        # Not refused here: treated as absent below, so the answer is the same as for a browser without a card.
        peer = peer_address(request) or ""
        await app[keys.STORE].write(
            audit.log, "client_cert_header_ignored", remote=request.remote or "", peer=peer, header=header
        )
        log.warning("ignored %s from %s: not one of [server] trusted_proxies", header, peer)
        value = ""

    reused_header = app[keys.CONFIG].eid.tls_session_reused_header

    async def verify() -> VerifiedIdentity:
        cert = certificate_from_header(value)
        if reused_header:
            reused = request.headers.get(reused_header)
            if reused is None:
                # Not the agent's doing: the proxy's config lacks the header (deploy-nginx.md).
                log.warning("refused a TLS login: the proxy sent no %s header", reused_header)
            require_full_handshake(reused)
        return await verify_certificate(cert, app[keys.VERIFY_POLICY], app[keys.HTTP])

    return await open_session(request, verify, method="tls")
