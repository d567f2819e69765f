"""Free loopback ports for servers started by tests (never the demo's 8080/5060/35963)."""

from __future__ import annotations

import socket

RESERVED = {8080, 5060, 35963, 8088}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED:
            return port


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (a SIP listener takes both)."""
    while True:
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
