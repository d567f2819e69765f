"""Web eID tokens signed in software: what a card plus the bridge (or the Web eID app) would send."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from agent_desktop.eid.verify import signed_data


def make_token(cert: x509.Certificate, key: Any, nonce: str, origin: str) -> dict[str, str]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = "ES384"
        r, s = decode_dss_signature(
            key.sign(signed_data(origin, nonce, algorithm), ec.ECDSA(hashes.SHA384()))
        )
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        algorithm = "RS256"
        signature = key.sign(signed_data(origin, nonce, algorithm), padding.PKCS1v15(), hashes.SHA256())
    return {
        "unverifiedCertificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        "algorithm": algorithm,
        "signature": base64.b64encode(signature).decode(),
        "format": "web-eid:1.0",
        "appVersion": "https://tests/1.0",
    }
