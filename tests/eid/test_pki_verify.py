"""The test PKI and the Web eID token verifier (signature, dates, key usage, purpose, path, national number);
OCSP-free (policy "off"): OCSP is covered in test_ocsp.py. Tokens are signed in software with real keys."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent_desktop.eid.errors import EidError
from agent_desktop.eid.nrn import make_test_nrn, validate_nrn
from agent_desktop.eid.pki import create_pki, issue_auth_cert, load_pki, save_pki
from agent_desktop.eid.verify import (
    VerifyPolicy,
    build_path,
    identity_from_certificate,
    load_trust_anchors,
    normalise_origin,
    verify_token,
)

ORIGIN = "https://desk.example.be"
NONCE = base64.b64encode(os.urandom(32)).decode()


def policy_for(pki, **kwargs) -> VerifyPolicy:
    return VerifyPolicy(origin=ORIGIN, trust_anchors=(pki.root_cert, pki.ca_cert), ocsp="off", **kwargs)


async def refused(
    token, pki, http, code: str, *, nonce: str = NONCE, policy: VerifyPolicy | None = None
) -> EidError:
    with pytest.raises(EidError) as info:
        await verify_token(token, nonce, policy or policy_for(pki), http)
    assert info.value.code == code, info.value
    return info.value


# --- the test PKI --------------------------------------------------------------------------------------------


def test_auth_cert_follows_the_belgian_profile(pki, rsa_card, nrn):
    cert, key = rsa_card
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "BE"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Jan Peeters (Authentication)"
    assert subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Peeters"
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "Jan"
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == nrn
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical and key_usage.value.digital_signature and not key_usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert key.key_size == 2048
    cert.verify_directly_issued_by(pki.ca_cert)
    pki.ca_cert.verify_directly_issued_by(pki.root_cert)
    assert pki.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    ocsp_eku = pki.ocsp_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.OCSP_SIGNING in ocsp_eku


def test_auth_cert_carries_aia_when_the_pki_has_an_ocsp_url(nrn):
    pki = create_pki("http://127.0.0.1:9/ocsp")
    cert, key = issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn, key_type="ec")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = {d.access_location.value for d in aia}
    assert "http://127.0.0.1:9/ocsp" in urls and len(urls) == 2


def test_issue_auth_cert_refuses_an_invalid_nrn(pki):
    with pytest.raises(ValueError) as info:
        issue_auth_cert(pki, given_name="A", surname="B", nrn="90010100199")
    assert "90010100199" not in str(info.value)


def test_save_and_load_pki_round_trip(tmp_path: Path):
    pki = create_pki("http://127.0.0.1:9/")
    save_pki(pki, tmp_path / "pki")
    for name in ("root", "ca", "ocsp"):
        assert stat.S_IMODE(os.stat(tmp_path / "pki" / f"{name}.key").st_mode) == 0o600
    loaded = load_pki(tmp_path / "pki")
    assert (
        loaded.root_cert == pki.root_cert
        and loaded.ca_cert == pki.ca_cert
        and loaded.ocsp_cert == pki.ocsp_cert
    )
    assert loaded.ocsp_url == "http://127.0.0.1:9/"
    der = serialization.Encoding.DER
    assert loaded.ca_key.public_key().public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        pki.ca_key.public_key().public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- accepted tokens -----------------------------------------------------------------------------------------


async def test_valid_rs256_token(pki, rsa_card, token_for, http, nrn):
    cert, key = rsa_card
    identity = await verify_token(token_for(cert, key, NONCE), NONCE, policy_for(pki), http)
    assert identity.nrn == nrn
    assert identity.display_name() == "Jan Peeters"
    assert identity.cert_fingerprint == cert.fingerprint(hashes.SHA256()).hex()
    assert identity.revocation == "unchecked"


async def test_valid_es384_token(pki, ec_card, token_for, http):
    cert, key = ec_card
    identity = await verify_token(token_for(cert, key, NONCE), NONCE, policy_for(pki), http)
    assert identity.display_name() == "Lotte Janssens"
    assert validate_nrn(identity.nrn)


async def test_ps256_and_later_minor_format_accepted(pki, rsa_card, token_for, http):
    cert, key = rsa_card
    token = token_for(cert, key, NONCE, algorithm="PS256")
    token["format"] = "web-eid:1.1"
    assert (await verify_token(token, NONCE, policy_for(pki), http)).surname == "Peeters"


async def test_policy_origin_is_normalised(pki, rsa_card, token_for, http):
    cert, key = rsa_card
    policy = VerifyPolicy(
        origin="HTTPS://Desk.Example.be:443/login?x=1", trust_anchors=(pki.root_cert, pki.ca_cert), ocsp="off"
    )
    assert policy.origin == ORIGIN
    await verify_token(token_for(cert, key, NONCE), NONCE, policy, http)


async def test_cert_without_eku_is_accepted(pki, token_for, http, nrn):
    cert, key = issue_auth_cert(pki, given_name="Old", surname="Card", nrn=nrn, with_eku=False)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert (await verify_token(token_for(cert, key, NONCE), NONCE, policy_for(pki), http)).surname == "Card"


async def test_trust_anchors_from_file_and_folder(pki, rsa_card, token_for, http, tmp_path: Path):
    cert, key = rsa_card
    pem = serialization.Encoding.PEM
    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(pki.root_cert.public_bytes(pem) + pki.ca_cert.public_bytes(pem))
    folder = tmp_path / "anchors"
    folder.mkdir()
    (folder / "root.pem").write_bytes(pki.root_cert.public_bytes(pem))
    (folder / "citizen.crt").write_bytes(pki.ca_cert.public_bytes(serialization.Encoding.DER))
    for source in (bundle, folder):
        anchors = load_trust_anchors(source)
        assert set(anchors) == {pki.root_cert, pki.ca_cert}
        policy = VerifyPolicy(origin=ORIGIN, trust_anchors=anchors, ocsp="off")
        await verify_token(token_for(cert, key, NONCE), NONCE, policy, http)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        load_trust_anchors(tmp_path / "empty")


def test_normalise_origin():
    assert normalise_origin("https://Desk.EXAMPLE.be/") == "https://desk.example.be"
    assert normalise_origin("http://127.0.0.1:8080/login") == "http://127.0.0.1:8080"
    assert normalise_origin("http://localhost:80") == "http://localhost"
    assert normalise_origin("https://[::1]:8443") == "https://[::1]:8443"
    for bad in ("ftp://desk", "desk.example.be", "https://", "https://user@desk", "https://desk:99999"):
        with pytest.raises(ValueError):
            normalise_origin(bad)


# --- refused tokens ------------------------------------------------------------------------------------------


async def test_forged_signature_is_refused(pki, rsa_card, token_for, http):
    cert, _ = rsa_card
    _, impostor_key = issue_auth_cert(
        pki, given_name="X", surname="Y", nrn=make_test_nrn(date(1980, 2, 2), 3)
    )
    await refused(token_for(cert, impostor_key, NONCE), pki, http, "signature_invalid")


async def test_tampered_signature_is_refused(pki, ec_card, token_for, http):
    cert, key = ec_card
    token = token_for(cert, key, NONCE)
    raw = bytearray(base64.b64decode(token["signature"]))
    raw[10] ^= 1
    token["signature"] = base64.b64encode(bytes(raw)).decode()
    await refused(token, pki, http, "signature_invalid")


async def test_der_encoded_ecdsa_signature_is_refused(pki, ec_card, token_for, http):
    """Web eID sends raw r‖s; a DER signature is a different (non-conforming) encoding."""
    cert, key = ec_card
    token = token_for(cert, key, NONCE)
    import hashlib

    data = hashlib.sha384(ORIGIN.encode()).digest() + hashlib.sha384(NONCE.encode()).digest()
    token["signature"] = base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA384()))).decode()
    await refused(token, pki, http, "signature_invalid")


async def test_algorithm_must_match_the_key(pki, rsa_card, ec_card, token_for, http):
    rsa_cert, rsa_key = rsa_card
    token = token_for(rsa_cert, rsa_key, NONCE)
    token["algorithm"] = "ES384"
    await refused(token, pki, http, "signature_invalid")
    ec_cert, ec_key = ec_card
    # ES256 names P-256; a P-384 card signing with SHA-256 is not a valid ES256 signer.
    await refused(token_for(ec_cert, ec_key, NONCE, algorithm="ES256"), pki, http, "signature_invalid")


async def test_wrong_origin_is_refused(pki, rsa_card, token_for, http):
    cert, key = rsa_card
    token = token_for(cert, key, NONCE, origin="https://evil.example.com")
    await refused(token, pki, http, "signature_invalid")
    # A token that states the origin it was made for gets the clearer code.
    token["origin"] = "https://evil.example.com"
    await refused(token, pki, http, "origin_mismatch")


async def test_wrong_nonce_is_refused(pki, rsa_card, token_for, http):
    cert, key = rsa_card
    other = base64.b64encode(os.urandom(32)).decode()
    await refused(token_for(cert, key, other), pki, http, "signature_invalid")


async def test_untrusted_root_is_refused(pki, other_pki, token_for, http, nrn):
    cert, key = issue_auth_cert(other_pki, given_name="Jan", surname="Peeters", nrn=nrn)
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")
    # Trusting the other root does not make the other Citizen CA (not configured) part of a path either.
    policy = VerifyPolicy(
        origin=ORIGIN, trust_anchors=(pki.root_cert, pki.ca_cert, other_pki.root_cert), ocsp="off"
    )
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted", policy=policy)


async def test_cert_from_a_lookalike_ca_is_refused(pki, other_pki, token_for, http, nrn):
    """Same Citizen CA name, different key: the name alone must not make a path."""
    forged_ca = (
        x509.CertificateBuilder()
        .subject_name(pki.ca_cert.subject)
        .issuer_name(pki.root_cert.subject)
        .public_key(other_pki.ca_key.public_key())
        .serial_number(7)
        .not_valid_before(pki.ca_cert.not_valid_before_utc)
        .not_valid_after(pki.ca_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(other_pki.root_key, hashes.SHA384())
    )
    forged_pki = type(pki)(
        pki.root_cert, other_pki.root_key, forged_ca, other_pki.ca_key, pki.ocsp_cert, pki.ocsp_key
    )
    cert, key = issue_auth_cert(forged_pki, given_name="Jan", surname="Peeters", nrn=nrn)
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")


async def test_intermediate_must_be_configured_and_chain_to_a_root(pki, rsa_card, token_for, http):
    cert, key = rsa_card
    token = token_for(cert, key, NONCE)
    only_root = VerifyPolicy(origin=ORIGIN, trust_anchors=(pki.root_cert,), ocsp="off")
    await refused(token, pki, http, "cert_untrusted", policy=only_root)
    only_intermediate = VerifyPolicy(origin=ORIGIN, trust_anchors=(pki.ca_cert,), ocsp="off")
    await refused(token, pki, http, "cert_untrusted", policy=only_intermediate)
    with pytest.raises(EidError):
        build_path(cert, (pki.ca_cert,), datetime.now(UTC))
    path = build_path(cert, (pki.ca_cert, pki.root_cert), datetime.now(UTC))
    assert path == [cert, pki.ca_cert, pki.root_cert]


async def test_expired_cert_is_refused(pki, token_for, http, nrn):
    now = datetime.now(UTC)
    cert, key = issue_auth_cert(
        pki,
        given_name="A",
        surname="B",
        nrn=nrn,
        not_before=now - timedelta(days=3650),
        not_after=now - timedelta(days=1),
    )
    error = await refused(token_for(cert, key, NONCE), pki, http, "cert_expired")
    assert "expired" in error.message


async def test_not_yet_valid_cert_is_refused(pki, token_for, http, nrn):
    now = datetime.now(UTC)
    cert, key = issue_auth_cert(
        pki,
        given_name="A",
        surname="B",
        nrn=nrn,
        not_before=now + timedelta(days=1),
        not_after=now + timedelta(days=10),
    )
    error = await refused(token_for(cert, key, NONCE), pki, http, "cert_expired")
    assert "not valid yet" in error.message


async def test_eku_without_client_auth_is_refused(pki, token_for, http, nrn):
    cert, key = issue_auth_cert(
        pki, given_name="A", surname="B", nrn=nrn, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION]
    )
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")


def hand_made_cert(pki, *, serial_number: str, digital_signature: bool = True):
    from agent_desktop.eid.pki import generate_key

    key = generate_key("ec")
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "A B (Authentication)"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
                ]
            )
        )
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.KeyUsage(
                digital_signature, not digital_signature, False, False, False, False, False, False, False
            ),
            critical=True,
        )
        .sign(pki.ca_key, hashes.SHA384())
    )
    return cert, key


async def test_cert_without_digital_signature_usage_is_refused(pki, token_for, http, nrn):
    cert, key = hand_made_cert(pki, serial_number=nrn, digital_signature=False)
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")


async def test_cert_with_invalid_nrn_is_refused(pki, token_for, http):
    bad = "90010100199"
    cert, key = hand_made_cert(pki, serial_number=bad)
    error = await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")
    assert bad not in str(error) and bad not in repr(error) and bad not in str(error.to_json())
    with pytest.raises(EidError) as info:
        identity_from_certificate(cert)
    assert info.value.code == "cert_untrusted"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.update(format="web-eid:2.0"),
        lambda t: t.update(format="JWT"),
        lambda t: t.pop("format"),
        lambda t: t.update(algorithm="HS256"),
        lambda t: t.update(algorithm="none"),
        lambda t: t.pop("signature"),
        lambda t: t.update(signature="***not base64***"),
        lambda t: t.update(unverifiedCertificate=base64.b64encode(b"not a certificate").decode()),
        lambda t: t.update(unverifiedCertificate=12),
        lambda t: t.update(signature="A" * 20_000),
    ],
)
async def test_malformed_token_is_bad_request(pki, rsa_card, token_for, http, mutate):
    cert, key = rsa_card
    token = token_for(cert, key, NONCE)
    mutate(token)
    await refused(token, pki, http, "bad_request")


async def test_non_object_token_is_bad_request(pki, http):
    for token in (None, [], "web-eid:1.0"):
        await refused(token, pki, http, "bad_request")


def test_identity_never_shows_the_nrn(rsa_card, nrn):
    cert, _ = rsa_card
    identity = identity_from_certificate(cert)
    assert identity.nrn == nrn
    assert nrn not in repr(identity) and nrn not in str(identity)
    key = os.urandom(32)
    assert identity.hashed_nrn(key) != nrn and len(identity.hashed_nrn(key)) == 64


def test_rsa_signature_over_unhashed_concatenation(rsa_card):
    """RS256 signs SHA-256(hash(origin) ‖ hash(nonce)), i.e. PKCS#1 v1.5 over the 64-byte concatenation."""
    import hashlib

    from agent_desktop.eid.verify import signed_data

    cert, key = rsa_card
    data = signed_data(ORIGIN, NONCE, "RS256")
    assert data == hashlib.sha256(ORIGIN.encode()).digest() + hashlib.sha256(NONCE.encode()).digest()
    assert len(signed_data(ORIGIN, NONCE, "ES384")) == 96
    cert.public_key().verify(
        key.sign(data, padding.PKCS1v15(), hashes.SHA256()), data, padding.PKCS1v15(), hashes.SHA256()
    )


async def test_cert_with_malformed_extension_is_untrusted(pki, token_for, http, nrn):
    """An empty EKU SEQUENCE does not parse; it must be a refusal, not a crash."""
    cert, key = issue_auth_cert(pki, given_name="A", surname="B", nrn=nrn, eku=[])
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted")


def leaf_signed_by(issuer_cert, issuer_key, nrn):
    """A card certificate whose issuer is `issuer_cert` (whatever that certificate is allowed to do)."""
    from agent_desktop.eid.pki import Pki

    fake = Pki(issuer_cert, issuer_key, issuer_cert, issuer_key, issuer_cert, issuer_key)
    return issue_auth_cert(fake, given_name="A", surname="B", nrn=nrn, key_type="ec")


async def test_issuer_must_be_a_ca(pki, token_for, http, nrn):
    """The OCSP signer is configured and chains to the root, but is no CA: it cannot issue cards."""
    cert, key = leaf_signed_by(pki.ocsp_cert, pki.ocsp_key, nrn)
    policy = VerifyPolicy(
        origin=ORIGIN, trust_anchors=(pki.root_cert, pki.ca_cert, pki.ocsp_cert), ocsp="off"
    )
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted", policy=policy)
    # Without key usage, only basicConstraints says "not a CA"; and without the extension at all, neither.
    from agent_desktop.eid.pki import generate_key

    for constraints in (x509.BasicConstraints(ca=False, path_length=None), None):
        issuer_key = generate_key("ec")
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not a CA")]))
            .issuer_name(pki.ca_cert.subject)
            .public_key(issuer_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=30))
        )
        if constraints is not None:
            builder = builder.add_extension(constraints, critical=True)
        not_a_ca = builder.sign(pki.ca_key, hashes.SHA384())
        cert, key = leaf_signed_by(not_a_ca, issuer_key, nrn)
        policy = VerifyPolicy(origin=ORIGIN, trust_anchors=(pki.root_cert, pki.ca_cert, not_a_ca), ocsp="off")
        await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted", policy=policy)


async def test_path_length_constraint_is_enforced(pki, token_for, http, nrn):
    """Citizen CA has pathLen 0: a sub-CA under it cannot issue cards even when configured."""
    from agent_desktop.eid.pki import generate_key

    sub_key = generate_key("ec")
    now = datetime.now(UTC)
    sub_ca = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sub CA")]))
        .issuer_name(pki.ca_cert.subject)
        .public_key(sub_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pki.ca_key, hashes.SHA384())
    )
    cert, key = leaf_signed_by(sub_ca, sub_key, nrn)
    anchors = (pki.root_cert, pki.ca_cert, sub_ca)
    policy = VerifyPolicy(origin=ORIGIN, trust_anchors=anchors, ocsp="off")
    await refused(token_for(cert, key, NONCE), pki, http, "cert_untrusted", policy=policy)


async def test_expired_intermediate_is_untrusted(pki, token_for, http, rsa_card):
    cert, key = rsa_card
    later = pki.ca_cert.not_valid_after_utc + timedelta(days=1)
    policy = policy_for(pki)
    with pytest.raises(EidError) as info:
        # build_path checks the configured certificates' own dates; the leaf's are _check_leaf's job.
        build_path(cert, policy.trust_anchors, later)
    assert info.value.code == "cert_untrusted"
