"""The client certificate a TLS-terminating proxy forwards in a request header (DESIGN.md §1, second login path):
header value → one `x509.Certificate`, or an EidError with the contract's code. Whether the header may be believed
at all (who sent it) is the web room's business; what the certificate is worth is `verify.verify_certificate`'s.

Accepted forms: URL-encoded PEM (nginx `$ssl_client_escaped_cert`) and base64 DER on one line (HAProxy
`%[ssl_c_der,base64]`). An empty value is what nginx sends when the browser presented no certificate.
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
