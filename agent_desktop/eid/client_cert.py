"""The client certificate a TLS-terminating proxy forwards in a request header (DESIGN.md §1, second login path):
header value → one `x509.Certificate`, or an EidError with the contract's code. Whether the header may be believed
at all (who sent it) is the web room's business; what the certificate is worth is `verify.verify_certificate`'s.

Accepted forms: URL-encoded PEM (nginx `$ssl_client_escaped_cert`) and base64 DER on one line (HAProxy
`%[ssl_c_der,base64]`). An empty value is what nginx sends when the browser presented no certificate.

Whether that certificate comes from a full handshake (the card signed, after its PIN) or from a resumed TLS session
(an earlier handshake's certificate, maybe before a logout, maybe another person's) is the proxy's second header:
`require_full_handshake` reads it.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from cryptography import x509

from .errors import EidError

# An eID authentication certificate is ≈ 1.5 kB of DER, ≈ 2.5 kB as escaped PEM; aiohttp caps a header at 8 kB.
MAX_HEADER_CHARS = 8192
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
# "Not resumed" as proxies say it: nginx `$ssl_session_reused` ("." or "r"), HAProxy `ssl_fc_is_resumed` (0 or 1).
# Anything else, absence included, is not a proof.
FULL_HANDSHAKE_VALUES = frozenset({".", "0"})


def certificate_from_header(value: str) -> x509.Certificate:
    """The one certificate in a proxy's client-certificate header. EidError(client_cert_missing) when the value
    is empty, EidError(bad_request) when it is not exactly one certificate in an accepted form."""
    value = value.strip()
    if not value:
        raise EidError("client_cert_missing", "the browser presented no client certificate to the proxy")
    if len(value) > MAX_HEADER_CHARS:
        raise EidError("bad_request", "the client certificate header is too long for one certificate")
    # unquote, not unquote_plus: base64's '+' is a '+' when a proxy left it unescaped.
    text = unquote(value)
    try:
        if _PEM_BEGIN in text:
            certs = x509.load_pem_x509_certificates(text.encode("ascii"))
        else:
            der = base64.b64decode(text, validate=True)
            certs = [x509.load_der_x509_certificate(der)]
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise EidError(
            "bad_request", "the client certificate header is not a URL-encoded PEM or base64 DER certificate"
        ) from None
    if len(certs) != 1:
        # The proxy forwards the leaf only; a chain here would be the client's say, and paths use configured
        # certificates alone anyway.
        raise EidError("bad_request", "the client certificate header must hold exactly one certificate")
    return certs[0]


def require_full_handshake(value: str | None) -> None:
    """Pass when the proxy's session-reused header says the TLS session was negotiated afresh; otherwise
    EidError(tls_session_resumed). `None` (the proxy sent no header) is refused too, so a proxy that forgot to
    set it fails closed."""
    if value is None:
        raise EidError(
            "tls_session_resumed",
            "the proxy did not say whether the TLS session was resumed: the card's authentication is not proven fresh",
        )
    if value.strip() not in FULL_HANDSHAKE_VALUES:
        raise EidError(
            "tls_session_resumed",
            "the TLS session was resumed from an earlier handshake: the card was not asked to authenticate again",
        )
