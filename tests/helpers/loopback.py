"""Extra source addresses on loopback (`::1.2.3.4`, `2001:db8::…`) for tests that need a peer at an address of a
given spelling. Only inside the suite's loopback-only network namespace (`make test`), where we are root and lo is
the only interface: never on a real host's lo (the test is skipped there)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def addresses_on_lo(*hosts: str) -> Iterator[None]:
    """Add each IPv6 `host` to lo as a /128 for the block's duration; skip the test where that cannot be done."""
    if [name for _, name in socket.if_nameindex()] != ["lo"] or shutil.which("ip") is None:
        pytest.skip("needs the suite's loopback-only network namespace (make test runs it in one)")
    added: list[str] = []
    try:
        for host in hosts:
            try:
                subprocess.run(
                    ["ip", "-6", "addr", "add", f"{host}/128", "dev", "lo"],
                    check=True,
                    timeout=5,
                    capture_output=True,
                )
            except subprocess.CalledProcessError:
                pytest.skip(f"cannot add {host} to lo here (not root in this namespace)")
            added.append(host)
        yield
    finally:
        for host in added:
            subprocess.run(["ip", "-6", "addr", "del", f"{host}/128", "dev", "lo"], check=False, timeout=5)
