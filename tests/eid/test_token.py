"""PKCS#11 token access against real SoftHSM2 cards: status, certificate, the Web eID signature (RS256 and raw
ES384), the Authentication-not-Signature key choice, error mapping, the worker process and the provisioner.

Every PKCS#11 call runs in a TokenWorker child with the test's own SOFTHSM2_CONF: SoftHSM reads its config once
per process, so the pytest process itself never loads a token module."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import PyKCS11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from agent_desktop.eid.errors import EidError
from agent_desktop.eid.softhsm import find_softhsm_module
from agent_desktop.eid.token import map_pkcs11_error
from agent_desktop.eid.token_worker import TokenWorker
from tests.eid.token_fixtures import (
    ORIGIN,
    PIN,
    check_web_eid_signature,
    make_card,
    new_nonce,
    self_signed,
    software_key,
)

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("ec", "ES384")])
async def test_card_signs_web_eid_data_with_its_authentication_key(tmp_path: Path, kind: str, algorithm: str):
    key = software_key(kind)
    provisioned = self_signed(key, "Test Holder (Authentication)")
    card = make_card(tmp_path, kind, auth_key=key, auth_cert=provisioned)
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        status = await worker.status()
        assert status.token_present and status.has_auth_cert and not status.pinpad
        assert status.label == "BELPIC" and status.readers >= 1

        der = await worker.read_auth_certificate()
        assert der == provisioned.public_bytes(serialization.Encoding.DER)

        nonce = new_nonce()
        token = await worker.authenticate(PIN, ORIGIN, nonce)
    assert token["algorithm"] == algorithm
    assert token["format"] == "web-eid:1.0"
    assert token["appVersion"].startswith("https://agent-desktop/eid-bridge/")
    cert = check_web_eid_signature(token, ORIGIN, nonce)
    assert cert.public_bytes(serialization.Encoding.DER) == der
    # The signature covers this origin and nonce only.
    with pytest.raises(InvalidSignature):
        check_web_eid_signature(token, "https://evil.example", nonce)
    with pytest.raises(InvalidSignature):
        check_web_eid_signature(token, ORIGIN, new_nonce())


async def test_signature_key_on_the_card_is_never_used(tmp_path: Path):
    card = make_card(tmp_path, "rsa", with_signature_key=True)
    signature_key = software_key("rsa", 1)
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        nonce = new_nonce()
        token = await worker.authenticate(PIN, ORIGIN, nonce)
    cert = check_web_eid_signature(token, ORIGIN, nonce)
    assert cert.public_key().public_numbers() == software_key("rsa").public_key().public_numbers()
    assert cert.public_key().public_numbers() != signature_key.public_key().public_numbers()


async def test_wrong_pin_is_pin_incorrect(tmp_path: Path):
    card = make_card(tmp_path, "ec")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        # A good login first: no login state may carry over into the next operation.
        await worker.authenticate(PIN, ORIGIN, new_nonce())
        with pytest.raises(EidError) as wrong:
            await worker.authenticate("9999", ORIGIN, new_nonce())
        assert wrong.value.code == "pin_incorrect"
        assert "9999" not in wrong.value.message
        # SoftHSM counts no tries: the right PIN still works.
        await worker.authenticate(PIN, ORIGIN, new_nonce())


_SESSION_SPY = """
import json, sys
import PyKCS11
from agent_desktop.eid import token

calls = []
for name in ("login", "logout", "closeSession"):
    def spy(self, *args, _name=name, _orig=getattr(PyKCS11.Session, name)):
        calls.append(_name)
        return _orig(self, *args)
    setattr(PyKCS11.Session, name, spy)
module, pin, origin, nonce = sys.argv[1:5]
libraries = token.LibraryCache()
token.authenticate(module, "BELPIC", pin, origin, nonce, libraries=libraries)
good = list(calls)
calls.clear()
try:
    token.authenticate(module, "BELPIC", "0000", origin, nonce, libraries=libraries)
except token.EidError as exc:
    code = exc.code
print(json.dumps({"good": good, "wrong": calls, "code": code}))
"""


def test_every_operation_logs_out_and_closes_its_session(tmp_path: Path):
    # Closing a token's last session logs out too, so only a spy on the calls tells an explicit logout.
    card = make_card(tmp_path, "rsa")
    out = subprocess.run(
        [sys.executable, "-c", _SESSION_SPY, card.module_path, PIN, ORIGIN, new_nonce()],
        env={**os.environ, **card.env(), "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    result = json.loads(out.stdout)
    assert result["good"] == ["login", "logout", "closeSession"]
    assert result["wrong"] == ["login", "closeSession"]
    assert result["code"] == "pin_incorrect"


async def test_missing_pin_is_bad_request_without_touching_the_card(tmp_path: Path):
    card = make_card(tmp_path, "rsa")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        for pin in (None, ""):
            with pytest.raises(EidError) as missing:
                await worker.authenticate(pin, ORIGIN, new_nonce())
            assert missing.value.code == "bad_request"


async def test_other_label_is_no_card(tmp_path: Path):
    card = make_card(tmp_path, "rsa")
    async with TokenWorker(card.module_path, "NOTBELPIC", env=card.env()) as worker:
        status = await worker.status()
        assert status.readers >= 1 and not status.token_present and status.label is None
        with pytest.raises(EidError) as no_card:
            await worker.authenticate(PIN, ORIGIN, new_nonce())
        assert no_card.value.code == "no_card"
        with pytest.raises(EidError) as no_cert:
            await worker.read_auth_certificate()
        assert no_cert.value.code == "no_card"


def _blank_belpic_token(directory: Path) -> dict[str, str]:
    """An initialised token labelled BELPIC that holds nothing; returns its env."""
    conf = directory / "softhsm2.conf"
    (directory / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "BELPIC",
            "--so-pin",
            "87654321",
            "--pin",
            PIN,
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=20,
    )
    return env


async def test_token_without_authentication_certificate_is_no_card(tmp_path: Path):
    env = _blank_belpic_token(tmp_path)
    async with TokenWorker(find_softhsm_module(), env=env) as worker:
        status = await worker.status()
        assert status.token_present and not status.has_auth_cert
        with pytest.raises(EidError) as no_cert:
            await worker.authenticate(PIN, ORIGIN, new_nonce())
        assert no_cert.value.code == "no_card"
        assert "Authentication certificate" in no_cert.value.message


async def test_empty_softhsm_has_a_reader_but_no_card(tmp_path: Path):
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    async with TokenWorker(find_softhsm_module(), env={"SOFTHSM2_CONF": str(conf)}) as worker:
        status = await worker.status()
        assert status.readers == 1 and not status.token_present and not status.has_auth_cert
        with pytest.raises(EidError) as no_card:
            await worker.authenticate(PIN, ORIGIN, new_nonce())
        assert no_card.value.code == "no_card"


def _opensc_module() -> str | None:
    for path in ("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so"):
        if Path(path).exists():
            return path
    return None


@pytest.mark.skipif(_opensc_module() is None, reason="OpenSC's PKCS#11 module is not installed")
async def test_module_without_any_slot_is_no_reader(tmp_path: Path):
    # OpenSC without a PC/SC reader lists no slot at all, as the Belgian middleware does with no reader.
    module = _opensc_module()
    assert module is not None
    env = {"OPENSC_CONF": str(tmp_path / "absent.conf")}
    async with TokenWorker(module, env=env) as worker:
        status = await worker.status()
        if status.readers:
            pytest.skip("a real smart-card reader is attached to this machine")
        assert not status.token_present
        with pytest.raises(EidError) as no_reader:
            await worker.authenticate(PIN, ORIGIN, new_nonce())
        assert no_reader.value.code == "no_reader"


async def test_unloadable_module_is_no_reader(tmp_path: Path):
    async with TokenWorker(str(tmp_path / "libabsent.so")) as worker:
        status = await worker.status()
        assert status.readers == 0 and not status.token_present
        with pytest.raises(EidError) as no_reader:
            await worker.read_auth_certificate()
        assert no_reader.value.code == "no_reader"


def test_pkcs11_error_mapping():
    error = PyKCS11.PyKCS11Error
    # SoftHSM never locks a PIN, so the blocked states are checked on the mapping with PyKCS11's own objects.
    assert map_pkcs11_error(error(PyKCS11.CKR_PIN_LOCKED)).code == "pin_blocked"
    locked = map_pkcs11_error(error(PyKCS11.CKR_PIN_INCORRECT), PyKCS11.CKF_USER_PIN_LOCKED)
    assert locked.code == "pin_blocked"

    last = map_pkcs11_error(error(PyKCS11.CKR_PIN_INCORRECT), PyKCS11.CKF_USER_PIN_FINAL_TRY)
    assert (last.code, last.details) == ("pin_incorrect", {"tries_left": 1})
    low = map_pkcs11_error(error(PyKCS11.CKR_PIN_INCORRECT), PyKCS11.CKF_USER_PIN_COUNT_LOW)
    assert (low.code, low.details) == ("pin_incorrect", {})
    assert map_pkcs11_error(error(PyKCS11.CKR_PIN_LEN_RANGE)).code == "pin_incorrect"
    assert map_pkcs11_error(error(PyKCS11.CKR_FUNCTION_CANCELED)).details == {"cancelled": True}

    for rv in (
        PyKCS11.CKR_DEVICE_REMOVED,
        PyKCS11.CKR_TOKEN_NOT_PRESENT,
        PyKCS11.CKR_SESSION_HANDLE_INVALID,
        PyKCS11.CKR_DEVICE_ERROR,
    ):
        assert map_pkcs11_error(error(rv)).code == "card_removed", PyKCS11.CKR[rv]
    other = map_pkcs11_error(error(PyKCS11.CKR_GENERAL_ERROR))
    assert other.code == "no_card" and "CKR_GENERAL_ERROR" in other.message
    assert locked.to_json()["error"]["code"] == "pin_blocked"


async def test_worker_returns_eid_errors_with_their_details(tmp_path: Path):
    card = make_card(tmp_path, "rsa")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        with pytest.raises(EidError) as wrong:
            await worker.authenticate("0000", ORIGIN, new_nonce())
    assert isinstance(wrong.value, EidError)
    assert wrong.value.to_json() == {"error": {"code": "pin_incorrect", "message": "wrong PIN"}}


async def test_worker_restarts_after_its_child_is_killed(tmp_path: Path):
    card = make_card(tmp_path, "ec")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        first = worker.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        nonce = new_nonce()
        check_web_eid_signature(await worker.authenticate(PIN, ORIGIN, nonce), ORIGIN, nonce)
        assert worker.pid not in (None, first) and worker.restarts == 1


async def test_hung_worker_is_killed_and_replaced(tmp_path: Path):
    card = make_card(tmp_path, "rsa")
    async with TokenWorker(card.module_path, card.label, env=card.env(), ping_timeout=0.5) as worker:
        hung = worker.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)  # a child stuck inside a C call looks exactly like this
        status = await worker.status()
        assert status.token_present
        assert worker.pid != hung and worker.restarts == 1
        with pytest.raises(ProcessLookupError):
            os.kill(hung, 0)  # killed and reaped, not left behind


async def test_worker_serialises_concurrent_calls(tmp_path: Path):
    card = make_card(tmp_path, "ec")
    async with TokenWorker(card.module_path, card.label, env=card.env()) as worker:
        nonces = [new_nonce() for _ in range(6)]
        tokens = await asyncio.gather(*(worker.authenticate(PIN, ORIGIN, n) for n in nonces))
    for token, nonce in zip(tokens, nonces, strict=True):
        check_web_eid_signature(token, ORIGIN, nonce)


def test_private_key_is_sensitive_and_not_extractable(tmp_path: Path):
    card = make_card(tmp_path, "rsa", with_signature_key=True)
    listing = subprocess.run(
        ["pkcs11-tool", "--module", card.module_path, "--token-label", card.label]
        + ["--login", "--pin", PIN, "--list-objects", "--type", "privkey"],
        env={**os.environ, **card.env()},
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    blocks = [block for block in listing.split("Private Key Object") if block.strip()]
    assert len(blocks) == 2
    labels = sorted(line.split(":", 1)[1].strip() for line in listing.splitlines() if "label:" in line)
    assert labels == ["Authentication", "Signature"]
    for block in blocks:
        access = next(line for line in block.splitlines() if "Access:" in line)
        assert "sensitive" in access and "extractable" not in access.replace("never extractable", "")
        assert "Usage:" in block and "sign" in block


def test_provisioning_is_idempotent(tmp_path: Path):
    cert = self_signed(software_key("ec"), "Test Holder (Authentication)")
    first = make_card(tmp_path, "ec", auth_cert=cert)
    again = make_card(tmp_path, "ec", auth_cert=cert)
    assert again == first
    listing = subprocess.run(
        ["softhsm2-util", "--show-slots"],
        env={**os.environ, **first.env()},
        check=True,
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert listing.count("Label:            BELPIC") == 1
    other_key = software_key("ec", 2)
    with pytest.raises(ValueError, match="another Authentication certificate"):
        make_card(tmp_path, "ec", auth_key=other_key, auth_cert=self_signed(other_key, "Someone Else"))
