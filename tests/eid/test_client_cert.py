"""A TLS proxy's client-certificate header → one certificate: nginx's URL-encoded PEM and HAProxy's base64 DER;
anything else a clear refusal that repeats nothing of the header."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from agent_desktop.eid.client_cert import certificate_from_header
from agent_desktop.eid.errors import EidError


def test_nginx_escaped_pem(rsa_card):
    cert, _ = rsa_card
    pem = cert.public_bytes(Encoding.PEM).decode()
    assert certificate_from_header(quote(pem, safe="")) == cert
    # Some escapers leave base64's '+' and '/' alone: '+' must stay a '+', not become a space.
    assert certificate_from_header(quote(pem, safe="+/=")) == cert


def test_haproxy_base64_der(ec_card):
    cert, _ = ec_card
    assert certificate_from_header(base64.b64encode(cert.public_bytes(Encoding.DER)).decode()) == cert


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_header_is_no_certificate(value):
    with pytest.raises(EidError) as info:
        certificate_from_header(value)
    assert info.value.code == "client_cert_missing"


def test_garbage_and_chains_are_bad_requests(rsa_card, ec_card, nrn):
    pems = b"".join(c.public_bytes(Encoding.PEM) for c, _ in (rsa_card, ec_card)).decode()
    for value in (
        "not a certificate",
        quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", safe=""),
        base64.b64encode(b"\x30\x03\x02\x01\x00").decode(),
        quote(pems, safe=""),  # a chain: the proxy forwards the leaf alone
        "%FF%FE" * 10,
        "A" * 9000,
    ):
        with pytest.raises(EidError) as info:
            certificate_from_header(value)
        assert info.value.code == "bad_request"
        assert nrn not in str(info.value.to_json())
