"""A real nginx (Debian's `nginx`) in front of a test desk: TLS on 127.0.0.1 on a free port, the documented server
block of docs/deploy-nginx.md with its production paths and addresses swapped for the test's, its own prefix,
config, logs and temp folders in the test's folder; one process (`master_process off`) stopped by its PID.

The server block is read from the docs on purpose: the tested proxy config is the one deployments copy. Each swap
must hit as often as expected, so a change to the docs that the swap no longer fits fails loudly instead of testing
something else.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.helpers.certs import self_signed
from tests.helpers.net import free_port
from tests.helpers.procs import stop_process, wait_until_serving

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy-nginx.md"
_BLOCK = re.compile(r"<!-- nginx-desk-begin -->\s*```nginx\n(.*?)```\s*<!-- nginx-desk-end -->", re.S)


def documented_server_block() -> str:
    match = _BLOCK.search(DOC.read_text())
    if match is None:
        raise AssertionError(f"{DOC}: no nginx block between the nginx-desk-begin/end markers")
    return match.group(1)


def _swap(text: str, old: str, new: str, times: int = 1) -> str:
    if text.count(old) != times:
        raise AssertionError(f"docs/deploy-nginx.md: expected {old!r} {times} time(s) in the server block")
    return text.replace(old, new)


@dataclass
class Nginx:
    directory: Path
    upstream_port: int
    client_cas_pem: bytes  # what `ssl_client_certificate` offers the browser
    port: int = 0
    # A test's departures from the documented block, (old, new) each hitting exactly once: e.g. a proxy that
    # resumes TLS sessions, to show what the desk does when someone turns resumption back on.
    changes: tuple[tuple[str, str], ...] = ()
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def server_cert(self) -> Path:
        """The proxy's own certificate (self-signed for 127.0.0.1): a TLS client's trust anchor."""
        return self.directory / "server.crt"

    def log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def config_text(self) -> str:
        block = documented_server_block()
        block = _swap(block, "listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
        block = _swap(block, "/etc/nginx/desk/server.crt", str(self.directory / "server.crt"))
        block = _swap(block, "/etc/nginx/desk/server.key", str(self.directory / "server.key"))
        block = _swap(block, "/etc/nginx/desk/eid-cas.pem", str(self.directory / "client-cas.pem"))
        block = _swap(block, "http://10.0.0.5:8080", f"http://127.0.0.1:{self.upstream_port}", times=2)
        for old, new in self.changes:
            block = _swap(block, old, new)
        d = self.directory
        return f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
{block}
}}
"""

    def start(self, timeout_s: float = 10.0) -> Nginx:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "tmp").mkdir(exist_ok=True)
        cert, key = self_signed("127.0.0.1", ip="127.0.0.1")
        self.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self.directory / "server.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (self.directory / "client-cas.pem").write_bytes(self.client_cas_pem)
        self.port = self.port or free_port()
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config_text())
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.directory), "-c", str(conf), "-e", str(self.directory / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until_serving(
            self.proc,
            self._listening,
            what=f"nginx on {self.port}",
            log=self.log,
            timeout_s=timeout_s,
            pause_s=0.05,
        )
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)
