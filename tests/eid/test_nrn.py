"""National register numbers: the mod-97 check (born before and from 2000), test numbers, the keyed hash and
its key, and that no refusal, repr or log line ever shows a number."""

from __future__ import annotations

import base64
import logging
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent_desktop.eid.errors import EidError
from agent_desktop.eid.nrn import key_from_env, load_or_create_key, make_test_nrn, nrn_hash, validate_nrn
from agent_desktop.eid.pki import issue_auth_cert
from agent_desktop.eid.verify import VerifyPolicy, identity_from_certificate, verify_token

ORIGIN = "https://desk.example.be"
EMAIL = ExtendedKeyUsageOID.EMAIL_PROTECTION


@pytest.mark.parametrize(
    "nrn",
    [
        "93051822361",  # the example number of Belgian documentation, born 1993
        "85073003328",  # born 1985
        "01050500230",  # born 5 May 2001: check over 2010505002
        "00010100105",  # born 1 January 2000
    ],
)
def test_valid_numbers(nrn):
    assert validate_nrn(nrn)


@pytest.mark.parametrize(
    "nrn",
    [
        "93051822362",  # check off by one
        "93051822300",  # neither check
        "9305182236",  # 10 digits
        "930518223611",  # 12 digits
        "93.05.18-223.61",  # formatted: callers strip separators first
        "9305182236a",
        "",
        "٩٣٠٥١٨٢٢٣٦١",  # Arabic-Indic digits are digits to str.isdigit, not to us
        " 93051822361",
    ],
)
def test_invalid_numbers(nrn):
    assert not validate_nrn(nrn)


def test_post_2000_check_uses_the_2_prefix():
    body = "010505002"
    assert 97 - int(body) % 97 != 97 - int("2" + body) % 97
    assert validate_nrn(body + f"{97 - int('2' + body) % 97:02d}")
    # The same nine digits with the pre-2000 check also validate (someone born in 1901): both are accepted.
    assert validate_nrn(body + f"{97 - int(body) % 97:02d}")


@pytest.mark.parametrize(
    "birth", [date(1950, 12, 31), date(1999, 12, 31), date(2000, 1, 1), date(2024, 2, 29)]
)
def test_make_test_nrn(birth):
    for sequence in (1, 2, 997, 998):
        nrn = make_test_nrn(birth, sequence)
        assert validate_nrn(nrn) and len(nrn) == 11
        assert nrn[:6] == birth.strftime("%y%m%d") and nrn[6:9] == f"{sequence:03d}"
    expected_body = int(("2" if birth.year >= 2000 else "") + make_test_nrn(birth, 5)[:9])
    assert int(make_test_nrn(birth, 5)[9:]) == 97 - expected_body % 97
    with pytest.raises(ValueError):
        make_test_nrn(birth, 0)
    with pytest.raises(ValueError):
        make_test_nrn(birth, 999)


def test_nrn_hash_is_keyed_and_stable():
    nrn = make_test_nrn(date(1990, 1, 1), 1)
    key, other = os.urandom(32), os.urandom(32)
    assert nrn_hash(nrn, key) == nrn_hash(nrn, key)
    assert nrn_hash(nrn, key) != nrn_hash(nrn, other)
    assert nrn_hash(nrn, key) != nrn_hash(make_test_nrn(date(1990, 1, 1), 3), key)
    assert len(nrn_hash(nrn, key)) == 64 and nrn not in nrn_hash(nrn, key)
    with pytest.raises(ValueError):
        nrn_hash(nrn, b"short")


def test_key_file_created_once_with_mode_0600(tmp_path: Path):
    path = tmp_path / "var" / "secrets" / "nrn.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key
    path.write_text("zz")
    with pytest.raises(ValueError):
        load_or_create_key(path)


def test_key_from_env():
    key = os.urandom(32)
    assert key_from_env("NRN_KEY", {"NRN_KEY": key.hex()}) == key
    assert key_from_env("NRN_KEY", {"NRN_KEY": "a long passphrase, not hex"}) == b"a long passphrase, not hex"
    assert key_from_env("NRN_KEY", {}) is None
    with pytest.raises(ValueError):
        key_from_env("NRN_KEY", {"NRN_KEY": "short"})


async def test_no_refusal_repr_or_log_shows_the_nrn(pki, other_pki, token_for, http, caplog):
    """Every refusal the verifier can give on a card with a valid number, and the accepted identity: the number
    appears in no message, repr, JSON body or log record."""
    nrn = make_test_nrn(date(1977, 3, 4), 123)
    nonce = base64.b64encode(os.urandom(32)).decode()
    now = datetime.now(UTC)
    policy = VerifyPolicy(origin=ORIGIN, trust_anchors=(pki.root_cert, pki.ca_cert), ocsp="off")
    good_cert, good_key = issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn)
    cases = [
        token_for(good_cert, good_key, "another nonce"),
        token_for(*issue_auth_cert(other_pki, given_name="A", surname="B", nrn=nrn), nonce),
        token_for(
            *issue_auth_cert(
                pki,
                given_name="A",
                surname="B",
                nrn=nrn,
                not_before=now - timedelta(9),
                not_after=now - timedelta(1),
            ),
            nonce,
        ),
        token_for(*issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn, eku=[]), nonce),
        token_for(*issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn, eku=[EMAIL]), nonce),
        {**token_for(good_cert, good_key, nonce), "format": "web-eid:9"},
        {**token_for(good_cert, good_key, nonce), "origin": "https://elsewhere.example"},
    ]
    required = VerifyPolicy(
        origin=ORIGIN,
        trust_anchors=(pki.root_cert, pki.ca_cert),
        ocsp="required",
        ocsp_responders=("http://127.0.0.1:",),
    )
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for token in cases:
        with pytest.raises(EidError) as info:
            await verify_token(token, nonce, policy, http)
        seen += [str(info.value), repr(info.value), str(info.value.to_json()), str(info.value.args)]
    with pytest.raises(EidError) as info:  # no OCSP URL in the certificate
        await verify_token(token_for(good_cert, good_key, nonce), nonce, required, http)
    seen += [str(info.value), repr(info.value), str(info.value.to_json())]
    optional = VerifyPolicy(
        origin=ORIGIN,
        trust_anchors=(pki.root_cert, pki.ca_cert),
        ocsp="optional",
        ocsp_responders=("http://127.0.0.1:",),
    )
    identity = await verify_token(token_for(good_cert, good_key, nonce), nonce, optional, http)
    assert identity.nrn == nrn
    seen += [repr(identity), str(identity), identity.display_name()]
    seen += [record.getMessage() for record in caplog.records]
    assert any("OCSP" in record.getMessage() for record in caplog.records)  # the optional fallback was logged
    assert len(seen) > 20
    for text in seen:
        assert nrn not in text
    assert identity_from_certificate(good_cert) == identity.__class__(
        **{**identity.__dict__, "revocation": "unchecked"}
    )
