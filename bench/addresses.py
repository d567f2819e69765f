"""What reading an address costs on the SIP receive path: per datagram the endpoint's throttle keys the source
(`source_key`, inside `_Throttle.allow`), and per request the server transport stamps the top Via (`stamp_via`);
per SIP send the transport spells the destination for its socket (`wire`). Printed: ns per call for an IPv4 source,
the same source as a dual-stack socket reports it (`::ffff:…`), and an IPv6 one. No sockets.

    .venv/bin/python bench/addresses.py [--number 50000]
"""

from __future__ import annotations

import argparse
import socket
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agent_desktop.sip import addresses  # noqa: E402
from agent_desktop.sip.endpoint import _Throttle  # noqa: E402

SOURCES = {"ipv4": "192.0.2.4", "mapped": "::ffff:192.0.2.4", "ipv6": "2001:db8:a:b::4"}
VIA = "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKbench;rport"


def per_call_ns(fn, number: int = 50_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--number", type=int, default=50_000, help="calls per timing (the best of 5 is printed)"
    )
    number = parser.parse_args().number
    throttle = _Throttle(rate=1e9, burst=10**9)
    rows = []
    for name, host in SOURCES.items():
        plain = addresses.plain(host)
        rows.append((f"source_key({name})", per_call_ns(lambda h=host: addresses.source_key(h), number)))
        rows.append((f"_Throttle.allow({name})", per_call_ns(lambda h=plain: throttle.allow(h, 0.0), number)))
        rows.append(
            (
                f"wire({name}, AF_INET6)",
                per_call_ns(lambda h=plain: addresses.wire(h, socket.AF_INET6), number),
            )
        )
    stamp = getattr(__import__("agent_desktop.sip.headers", fromlist=["stamp_via"]), "stamp_via", None)
    if stamp is not None:
        rows.append(("stamp_via(rport)", per_call_ns(lambda: stamp(VIA, "::ffff:192.0.2.4", 40000), number)))
    for label, ns in rows:
        print(f"{label:32s} {ns:8.0f} ns")


if __name__ == "__main__":
    main()
