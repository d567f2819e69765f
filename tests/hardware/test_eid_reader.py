"""eID reader check: the child-process plumbing against a stand-in token module (every outcome, crash and hang
included), and the real eID token access against a real SoftHSM2 token."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from hardware_check.checks.eid_reader import check_eid_reader, default_module
from tests.helpers.certs import self_signed

SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
needs_softhsm = pytest.mark.skipif(not SOFTHSM.exists(), reason="softhsm2 is not installed")

FAKE_TOKEN = textwrap.dedent(
    '''
    """Stand-in for agent_desktop.eid.token, driven by FAKE_TOKEN_MODE."""
    import os
    import time
    from dataclasses import dataclass

    from agent_desktop.eid.errors import EidError


    @dataclass
    class TokenStatus:
        readers: int
        token_present: bool
        pinpad: bool
        label: str | None
        has_auth_cert: bool


    def token_status(module_path: str, label: str = "BELPIC") -> TokenStatus:
        mode = os.environ["FAKE_TOKEN_MODE"]
        if mode == "card":
            return TokenStatus(2, True, True, label, True)
        if mode == "nocert":
            return TokenStatus(1, True, False, "BANKCARD", False)
        if mode == "nocard":
            return TokenStatus(1, False, False, None, False)
        if mode == "noreader":
            return TokenStatus(0, False, False, None, False)
        if mode == "eiderror":
            raise EidError("card_removed", "the card was removed")
        if mode == "othererror":
            raise EidError("pkcs11_error", "CKR_DEVICE_ERROR")
        if mode == "crash":
            os.abort()
        if mode == "hang":
            time.sleep(60)
        raise AssertionError(mode)
    '''
)
FAKE_ERRORS = textwrap.dedent(
    '''
    """Stand-in EidError."""


    class EidError(Exception):
        def __init__(self, code, message, details=None):
            super().__init__(f"{code}: {message}")
            self.code = code
            self.message = message
    '''
)


@pytest.fixture
def fake_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pkg = tmp_path / "fake" / "agent_desktop" / "eid"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text('"""stand-in"""\n')
    (pkg / "__init__.py").write_text('"""stand-in"""\n')
    (pkg / "errors.py").write_text(FAKE_ERRORS)
    (pkg / "token.py").write_text(FAKE_TOKEN)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))

    def set_mode(mode: str) -> None:
        monkeypatch.setenv("FAKE_TOKEN_MODE", mode)

    return set_mode


@needs_softhsm
@pytest.mark.parametrize(
    ("mode", "status", "value", "detail"),
    [
        ("card", "pass", "card", "card 'BELPIC' with Authentication certificate; PIN pad: yes"),
        ("nocert", "warn", "reader", "no Authentication certificate"),
        ("nocard", "warn", "reader", "no card inserted"),
        ("noreader", "fail", "none", "no card reader found"),
        ("eiderror", "warn", "reader", "no card inserted"),
        ("othererror", "fail", "none", "pkcs11_error: CKR_DEVICE_ERROR"),
        ("crash", "unknown", None, "crashed"),
    ],
)
async def test_probe_outcomes(fake_token, mode: str, status: str, value: str | None, detail: str) -> None:
    fake_token(mode)
    [row] = await check_eid_reader(str(SOFTHSM))
    assert (row.name, row.status, row.value) == ("eid_reader", status, value)
    assert detail in row.detail


@needs_softhsm
async def test_hanging_middleware_times_out(fake_token) -> None:
    fake_token("hang")
    [row] = await check_eid_reader(str(SOFTHSM), limit_s=1.0)
    assert row.status == "unknown" and "did not answer within 1 s" in row.detail


async def test_missing_module_fails_with_install_hint() -> None:
    [row] = await check_eid_reader("/nonexistent/libbeidpkcs11.so.0")
    assert (row.status, row.value) == ("fail", "none")
    assert "not found" in row.detail and "eid.belgium.be" in row.detail


def test_default_modules() -> None:
    assert default_module("linux") == "libbeidpkcs11.so.0"
    assert default_module("win32") == "beidpkcs11.dll"
    assert default_module("darwin").endswith("libbeidpkcs11.dylib")


# --- the real eID token access against a real SoftHSM2 token -------------------------------------------------

PIN = "1234"


def _self_signed_der() -> bytes:
    cert, _key = self_signed("Test Agent (Authentication)")
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def softhsm_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if importlib.util.find_spec("agent_desktop.eid.token") is None:
        pytest.skip("agent_desktop.eid.token (the eID room's token access) is not written yet")
    if not SOFTHSM.exists() or not shutil.which("softhsm2-util") or not shutil.which("pkcs11-tool"):
        pytest.skip("softhsm2-util / pkcs11-tool (opensc) not installed")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "BELPIC", "--pin", PIN, "--so-pin", "123456"],
        check=True,
        capture_output=True,
        timeout=30,
    )

    def add_auth_cert() -> None:
        der = tmp_path / "auth.der"
        der.write_bytes(_self_signed_der())
        subprocess.run(
            ["pkcs11-tool", "--module", str(SOFTHSM), "--token-label", "BELPIC", "--login", "--pin", PIN]
            + ["--write-object", str(der), "--type", "cert", "--label", "Authentication", "--id", "02"],
            check=True,
            capture_output=True,
            timeout=30,
        )

    return add_auth_cert


async def test_softhsm_card_with_auth_cert_passes(softhsm_token) -> None:
    softhsm_token()
    [row] = await check_eid_reader(str(SOFTHSM), "BELPIC")
    assert (row.status, row.value) == ("pass", "card"), row.detail
    assert "Authentication certificate" in row.detail


async def test_softhsm_token_without_auth_cert_warns(softhsm_token) -> None:
    [row] = await check_eid_reader(str(SOFTHSM), "BELPIC")
    assert (row.status, row.value) == ("warn", "reader"), row.detail


async def test_softhsm_other_label_is_no_card(softhsm_token) -> None:
    softhsm_token()
    [row] = await check_eid_reader(str(SOFTHSM), "NOT-BELPIC")
    assert (row.status, row.value) == ("warn", "reader"), row.detail
