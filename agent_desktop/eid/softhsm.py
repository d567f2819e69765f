"""The software eID card: a SoftHSM2 token laid out like a Belgian eID card, for the demo and the tests.

`provision_token` writes its own `softhsm2.conf`, initialises a token labelled `BELPIC` and imports the
Authentication key and certificate (CKA_LABEL "Authentication", shared CKA_ID 0x02), optionally a Signature
key/certificate (0x03) and CA certificates ("CA", "Root"), as the Belgian middleware shows them.

SoftHSM reads `SOFTHSM2_CONF` once, at C_Initialize, and PyKCS11 keeps a module loaded per process; so the
objects are written by a child process (`python -m agent_desktop.eid.softhsm`, JSON on stdin) whose environment
names this token's configuration, and the caller's process never loads SoftHSM for a token it provisions.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUTH_ID = b"\x02"
SIGNATURE_ID = b"\x03"
_SUBPROCESS_TIMEOUT_S = 30.0

_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/{multiarch}/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftToken:
    """A provisioned software card: what the bridge (module, label, env) and a test (PINs) need."""

    module_path: str
    conf_path: Path
    label: str
    pin: str
    so_pin: str

    def env(self) -> dict[str, str]:
        """Environment a process needs to see this token (and no other)."""
        return {"SOFTHSM2_CONF": str(self.conf_path)}


def find_softhsm_module() -> str:
    """Path of libsofthsm2.so; FileNotFoundError naming the Debian package when it is not installed."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    for candidate in _MODULE_CANDIDATES:
        path = candidate.format(multiarch=multiarch)
        if os.path.exists(path):
            return path
    raise FileNotFoundError("libsofthsm2.so not found: install the softhsm2 package")


def _softhsm_util() -> str:
    path = shutil.which("softhsm2-util")
    if path is None:
        raise FileNotFoundError("softhsm2-util not found: install the softhsm2 package")
    return path


def _write_conf(directory: Path) -> Path:
    tokendir = directory / "tokens"
    tokendir.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    text = (
        f"directories.tokendir = {tokendir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
    return conf


def _child_env(conf: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SOFTHSM2_CONF"] = str(conf)
    # The child must import this package even when it is not installed (a checkout run with pytest).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _run_helper(conf: Path, request: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "agent_desktop.eid.softhsm"],
        input=json.dumps(request).encode(),
        env=_child_env(conf),
        capture_output=True,
        timeout=_SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"SoftHSM provisioning helper failed: {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return json.loads(proc.stdout)


def _pem_key(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def provision_token(
    directory: Path,
    *,
    label: str = "BELPIC",
    pin: str,
    so_pin: str,
    auth_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    auth_cert: x509.Certificate,
    ca_certs: Sequence[x509.Certificate] = (),
    signature_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    signature_cert: x509.Certificate | None = None,
) -> SoftToken:
    """Create (or find again) a SoftHSM2 token in `directory` holding this identity's card objects.

    Idempotent: when `directory` already holds a token labelled `label` that accepts `pin` and carries
    `auth_cert`, it is returned untouched; one that carries another certificate is a ValueError (delete the
    directory to start again) rather than a silent mix of identities. `ca_certs` are labelled "CA", the last one
    "Root" when it is self-signed."""
    directory = Path(directory)
    conf = _write_conf(directory)
    module = find_softhsm_module()
    token = SoftToken(module, conf, label, pin, so_pin)
    request: dict[str, Any] = {"module": module, "label": label, "pin": pin}
    found = _run_helper(conf, {**request, "op": "inspect"})
    if found["exists"]:
        if found["auth_cert"] != _der_b64(auth_cert):
            raise ValueError(f"{directory} holds a token {label!r} with another Authentication certificate")
        return token
    subprocess.run(
        [_softhsm_util(), "--init-token", "--free", "--label", label, "--so-pin", so_pin, "--pin", pin],
        env=_child_env(conf),
        capture_output=True,
        timeout=_SUBPROCESS_TIMEOUT_S,
        check=True,
    )
    objects: list[dict[str, Any]] = [
        {"kind": "key", "label": "Authentication", "id": AUTH_ID.hex(), "pem": _pem_key(auth_key)},
        {"kind": "cert", "label": "Authentication", "id": AUTH_ID.hex(), "der": _der_b64(auth_cert)},
    ]
    if (signature_key is None) != (signature_cert is None):
        raise ValueError("signature_key and signature_cert go together")
    if signature_key is not None and signature_cert is not None:
        objects.append(
            {"kind": "key", "label": "Signature", "id": SIGNATURE_ID.hex(), "pem": _pem_key(signature_key)}
        )
        objects.append(
            {"kind": "cert", "label": "Signature", "id": SIGNATURE_ID.hex(), "der": _der_b64(signature_cert)}
        )
    for index, ca in enumerate(ca_certs):
        is_root = index == len(ca_certs) - 1 and ca.subject == ca.issuer
        # Belgian cards: CA certificate id 0x04, root 0x06.
        objects.append(
            {
                "kind": "cert",
                "label": "Root" if is_root else "CA",
                "id": "06" if is_root else "04",
                "der": _der_b64(ca),
            }
        )
    _run_helper(conf, {**request, "op": "write", "objects": objects})
    return token


# --- the helper process (PyKCS11 loaded here only) -------------------------------------------------------


def _key_template(key: Any, label: str, key_id: bytes) -> list[tuple[int, Any]]:
    import PyKCS11

    template: list[tuple[int, Any]] = [
        (PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY),
        (PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_PRIVATE, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_SENSITIVE, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_EXTRACTABLE, PyKCS11.CK_FALSE),
        (PyKCS11.CKA_SIGN, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_DECRYPT, PyKCS11.CK_FALSE),
        (PyKCS11.CKA_UNWRAP, PyKCS11.CK_FALSE),
        (PyKCS11.CKA_LABEL, label),
        (PyKCS11.CKA_ID, key_id),
    ]

    def big(n: int) -> bytes:
        return n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")

    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        template += [
            (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_RSA),
            (PyKCS11.CKA_MODULUS, big(numbers.public_numbers.n)),
            (PyKCS11.CKA_PUBLIC_EXPONENT, big(numbers.public_numbers.e)),
            (PyKCS11.CKA_PRIVATE_EXPONENT, big(numbers.d)),
            (PyKCS11.CKA_PRIME_1, big(numbers.p)),
            (PyKCS11.CKA_PRIME_2, big(numbers.q)),
            (PyKCS11.CKA_EXPONENT_1, big(numbers.dmp1)),
            (PyKCS11.CKA_EXPONENT_2, big(numbers.dmq1)),
            (PyKCS11.CKA_COEFFICIENT, big(numbers.iqmp)),
        ]
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        oids = {
            "secp256r1": bytes.fromhex("06082a8648ce3d030107"),
            "secp384r1": bytes.fromhex("06052b81040022"),
            "secp521r1": bytes.fromhex("06052b81040023"),
        }
        width = (key.curve.key_size + 7) // 8
        template += [
            (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC),
            (PyKCS11.CKA_EC_PARAMS, oids[key.curve.name]),
            (PyKCS11.CKA_VALUE, key.private_numbers().private_value.to_bytes(width, "big")),
        ]
    else:
        raise ValueError("only RSA and EC keys go on an eID card")
    return template


def _cert_template(der: bytes, label: str, cert_id: bytes) -> list[tuple[int, Any]]:
    import PyKCS11

    cert = x509.load_der_x509_certificate(der)
    serial = cert.serial_number
    serial_der = serial.to_bytes(
        serial.bit_length() // 8 + 1, "big"
    )  # DER INTEGER content, sign bit kept clear
    return [
        (PyKCS11.CKA_CLASS, PyKCS11.CKO_CERTIFICATE),
        (PyKCS11.CKA_CERTIFICATE_TYPE, PyKCS11.CKC_X_509),
        (PyKCS11.CKA_TOKEN, PyKCS11.CK_TRUE),
        (PyKCS11.CKA_PRIVATE, PyKCS11.CK_FALSE),
        (PyKCS11.CKA_LABEL, label),
        (PyKCS11.CKA_ID, cert_id),
        (PyKCS11.CKA_SUBJECT, cert.subject.public_bytes()),
        (PyKCS11.CKA_ISSUER, cert.issuer.public_bytes()),
        (PyKCS11.CKA_SERIAL_NUMBER, bytes([0x02, len(serial_der)]) + serial_der),
        (PyKCS11.CKA_VALUE, der),
    ]


def _helper(request: dict[str, Any]) -> dict[str, Any]:
    import PyKCS11

    lib = PyKCS11.PyKCS11Lib().load(request["module"])
    slot = None
    for candidate in lib.getSlotList(tokenPresent=True):
        info = lib.getTokenInfo(candidate)
        if info.flags & PyKCS11.CKF_TOKEN_INITIALIZED and info.label.rstrip(" \x00") == request["label"]:
            slot = candidate
            break
    if request["op"] == "inspect":
        if slot is None:
            return {"exists": False}
        session = lib.openSession(slot)
        try:
            session.login(request["pin"])  # a wrong PIN here is the caller's mistake: let it raise
            session.logout()
            found = session.findObjects(
                [(PyKCS11.CKA_CLASS, PyKCS11.CKO_CERTIFICATE), (PyKCS11.CKA_LABEL, "Authentication")]
            )
            der = (
                bytes(session.getAttributeValue(found[0], [PyKCS11.CKA_VALUE], allAsBinary=True)[0])
                if found
                else b""
            )
        finally:
            session.closeSession()
        return {"exists": True, "auth_cert": base64.b64encode(der).decode("ascii")}
    if slot is None:
        raise RuntimeError(f"token {request['label']!r} not found after initialisation")
    session = lib.openSession(slot, PyKCS11.CKF_RW_SESSION)
    try:
        session.login(request["pin"])
        for obj in request["objects"]:
            obj_id = bytes.fromhex(obj["id"])
            if obj["kind"] == "key":
                key = serialization.load_pem_private_key(obj["pem"].encode("ascii"), password=None)
                session.createObject(_key_template(key, obj["label"], obj_id))
            else:
                session.createObject(_cert_template(base64.b64decode(obj["der"]), obj["label"], obj_id))
        session.logout()
    finally:
        session.closeSession()
    return {"written": len(request["objects"])}


def main() -> None:
    """Helper entry point: one JSON request on stdin, one JSON answer on stdout."""
    request = json.load(sys.stdin)
    json.dump(_helper(request), sys.stdout)


if __name__ == "__main__":
    main()
