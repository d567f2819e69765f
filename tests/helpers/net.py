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
