"""A real TURN server for tests: Debian's coturn (`turnserver`) on 127.0.0.1, TURN REST credentials
(`--use-auth-secret`), run as a subprocess that is stopped by its own PID.

coturn refuses relaying to loopback peers unless `--allow-loopback-peers`; the tests run in a loopback-only
namespace, so every peer is on 127.0.0.1. `-n` keeps /etc/turnserver.conf out; no CLI, TLS, DTLS or web admin
(whose default port is 8080); its database, pid file and log live in the test's own folder.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.net import free_port, free_udp_tcp_port
from tests.helpers.procs import stop_process, wait_until_serving

TURNSERVER = shutil.which("turnserver")
REALM = "desk.test"


@dataclass
class Coturn:
    directory: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_udp_tcp_port)
    relay_ports: int = 40
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def log_path(self) -> Path:
        return self.directory / "turnserver.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout_s: float = 15.0) -> Coturn:
        if TURNSERVER is None:
            raise RuntimeError("turnserver not found: install Debian's coturn (make test does)")
        self.directory.mkdir(parents=True, exist_ok=True)
        # Relay ports: a block after a port the kernel just found free, clear of the listening port.
        first = min(free_port(socket.SOCK_DGRAM), 65535 - self.relay_ports)
        if first <= self.port < first + self.relay_ports:
            first = self.port + 1 if self.port + self.relay_ports < 65535 else self.port - self.relay_ports
        args = [
            TURNSERVER,
            "-n",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={self.port}",
            f"--min-port={first}",
            f"--max-port={first + self.relay_ports - 1}",
            "--use-auth-secret",
            f"--static-auth-secret={self.secret}",
            f"--realm={REALM}",
            "--allow-loopback-peers",
            "--fingerprint",
            "--no-software-attribute",
            f"--userdb={self.directory / 'turndb'}",
            f"--pidfile={self.directory / 'turnserver.pid'}",
            f"--log-file={self.log_path}",
            "--simple-log",
            "--no-stdout-log",
            "--verbose",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until_serving(
            self.proc,
            lambda: stun_binding_answers(self.port),
            what="turnserver (STUN)",
            log=lambda: self.log()[-3000:],
            timeout_s=timeout_s,
            group=False,
        )
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, 5, group=False)


def stun_binding_answers(port: int, timeout_s: float = 0.3) -> bool:
    """Whether a STUN Binding request (RFC 8489: type 0x0001, magic cookie) to 127.0.0.1:port gets a success."""
    transaction = secrets.token_bytes(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(request, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01" and data[8:20] == transaction
