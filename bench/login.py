"""Login verification throughput: Web eID tokens verified per second by `verify_token`, for RS256 (RSA-2048
cards) and ES384 (P-384 cards), with OCSP off and with OCSP required against the local test responder
(in-process, 127.0.0.1, free port). Tokens are signed beforehand; only verification is timed.

Usage: .venv/bin/python bench/login.py [--count 200]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import os
import time
from datetime import date
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.eid.ocsp_responder import start_responder
from agent_desktop.eid.pki import create_pki, issue_auth_cert
from agent_desktop.eid.verify import VerifyPolicy, verify_token

ORIGIN = "https://desk.example.be"


def make_token(cert: Any, key: Any, nonce: str) -> dict[str, str]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm, digest = "ES384", hashes.SHA384()
    else:
        algorithm, digest = "RS256", hashes.SHA256()
    data = (
        hashlib.new(digest.name, ORIGIN.encode()).digest() + hashlib.new(digest.name, nonce.encode()).digest()
    )
    if algorithm == "ES384":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        signature = key.sign(data, padding.PKCS1v15(), digest)
    return {
        "unverifiedCertificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        "algorithm": algorithm,
        "signature": base64.b64encode(signature).decode(),
        "format": "web-eid:1.0",
        "appVersion": "bench",
    }


async def main(count: int) -> None:
    pki = create_pki()
    running = await start_responder(pki, "127.0.0.1", 0, set())
    try:
        issuing = dataclasses.replace(pki, ocsp_url=running.url + "ocsp")
        nrn = make_test_nrn(date(1990, 1, 1), 1)
        cards = {
            kind: issue_auth_cert(issuing, given_name="Bench", surname="Mark", nrn=nrn, key_type=kind)
            for kind in ("rsa", "ec")
        }
        print(f"{'algorithm':<10}{'ocsp':<10}{'count':>7}{'per second':>12}{'mean ms':>10}{'p95 ms':>9}")
        async with aiohttp.ClientSession() as session:
            for cert, key in cards.values():
                for mode in ("off", "required"):
                    policy = VerifyPolicy(
                        origin=ORIGIN,
                        trust_anchors=(pki.root_cert, pki.ca_cert),
                        ocsp=mode,  # type: ignore[arg-type]
                        ocsp_responders=("http://127.0.0.1:",),
                    )
                    nonces = [base64.b64encode(os.urandom(32)).decode() for _ in range(count)]
                    tokens = [make_token(cert, key, n) for n in nonces]
                    durations: list[float] = []
                    started = time.perf_counter()
                    for token, nonce in zip(tokens, nonces, strict=True):
                        t0 = time.perf_counter()
                        await verify_token(token, nonce, policy, session)
                        durations.append(time.perf_counter() - t0)
                    elapsed = time.perf_counter() - started
                    durations.sort()
                    p95 = durations[int(0.95 * (len(durations) - 1))]
                    algorithm = tokens[0]["algorithm"]
                    print(
                        f"{algorithm:<10}{mode:<10}{count:>7}{count / elapsed:>12.0f}"
                        f"{1000 * elapsed / count:>10.2f}{1000 * p95:>9.2f}"
                    )
    finally:
        await running.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="verifications per row (default 200)")
    asyncio.run(main(parser.parse_args().count))
