"""PKCS#11 in a child process, so a PIN pad wait or a crashing middleware never freezes the bridge.

PyKCS11 holds the GIL for a whole C call (a PIN pad reader waits up to a minute inside C_Login), so the bridge
keeps every PKCS#11 call in one child (`python -m agent_desktop.eid.token_worker MODULE LABEL`) and talks to it
in JSON lines over stdin/stdout: `{"id", "op", "args"}` in, `{"id", "ok"}` or `{"id", "error": {code, message,
details}}` out, plus `{"id", "event": "pinpad"}` when the reader starts its own PIN entry (the parent then
allows the PIN pad timeout). Calls are serialised (there is one card). A child that crashed, hangs or died
while idle is killed by its PID and a new one started on the next call; the call that saw it go gets
`card_removed`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import EidError
from .token import DEFAULT_LABEL, LibraryCache, TokenStatus, authenticate, read_auth_certificate, token_status

logger = logging.getLogger(__name__)

_LINE_LIMIT = 1 << 20
# The child must import this package even when it is not installed (a checkout run with pytest).
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class TokenWorker:
    """The parent's handle on the PKCS#11 child: one card, one call at a time, each with a timeout."""

    def __init__(
        self,
        module_path: str,
        label: str = DEFAULT_LABEL,
        *,
        env: Mapping[str, str] | None = None,
        op_timeout: float = 10.0,
        pinpad_timeout: float = 60.0,
        start_timeout: float = 10.0,
        ping_timeout: float = 2.0,
    ) -> None:
        self.module_path = module_path
        self.label = label
        self._env = dict(env or {})
        self._op_timeout = op_timeout
        self._pinpad_timeout = pinpad_timeout
        self._start_timeout = start_timeout
        self._ping_timeout = ping_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._spawned = False
        self.restarts = 0  # children replaced after a crash or hang (for logs and tests)

    @property
    def pid(self) -> int | None:
        """PID of the current child (None before start or after a kill)."""
        return self._proc.pid if self._proc is not None else None

    async def __aenter__(self) -> TokenWorker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the child and wait until it answers."""
        async with self._lock:
            await self._ensure_alive()

    async def close(self) -> None:
        """Stop the child: EOF on its stdin, then a kill if it does not leave within 2 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            await _kill(proc)

    async def status(self) -> TokenStatus:
        result = await self._call("status", {}, self._op_timeout)
        return TokenStatus(**result)

    async def read_auth_certificate(self) -> bytes:
        result = await self._call("read_auth_certificate", {}, self._op_timeout)
        return base64.b64decode(result)

    async def authenticate(self, pin: str | None, origin: str, nonce: str) -> dict[str, str]:
        """The Web eID token for `origin` and `nonce`; `pin` is ignored on a PIN pad reader."""
        return await self._call(
            "authenticate", {"pin": pin, "origin": origin, "nonce": nonce}, self._op_timeout
        )

    async def _call(self, op: str, args: dict[str, Any], limit_s: float) -> Any:
        async with self._lock:
            await self._ensure_alive()
            return await self._request(op, args, limit_s)

    async def _ensure_alive(self) -> None:
        # A ping proves the child is alive before anything is sent that spends a PIN try.
        if self._proc is not None:
            old_pid = self._proc.pid
            try:
                await self._request("ping", {}, self._ping_timeout)
                return
            except EidError:
                logger.warning("PKCS#11 worker (pid %s) is gone or hung; starting a new one", old_pid)
        await self._spawn()
        try:
            await self._request("ping", {}, self._start_timeout)
        except EidError:
            raise EidError("no_reader", "the eID worker process could not be started") from None

    async def _spawn(self) -> None:
        if self._proc is not None:
            await _kill(self._proc)
            self._proc = None
        if self._spawned:
            self.restarts += 1
        self._spawned = True
        env = dict(os.environ)
        env.update(self._env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_desktop.eid.token_worker",
            self.module_path,
            self.label,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=_LINE_LIMIT,
        )
        logger.info("PKCS#11 worker started (pid %s)", self._proc.pid)

    async def _request(self, op: str, args: dict[str, Any], limit_s: float) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        self._next_id += 1
        request_id = self._next_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        try:
            proc.stdin.write(json.dumps({"id": request_id, "op": op, "args": args}).encode() + b"\n")
            await asyncio.wait_for(proc.stdin.drain(), limit_s)
            while True:
                line = await asyncio.wait_for(proc.stdout.readline(), max(0.0, deadline - loop.time()))
                if not line:
                    raise ConnectionResetError("worker closed its stdout")
                message = json.loads(line)
                if message.get("id") != request_id:
                    continue
                if message.get("event") == "pinpad":
                    deadline = loop.time() + self._pinpad_timeout
                    continue
                if "error" in message:
                    error = message["error"]
                    raise EidError(error["code"], error["message"], error.get("details"))
                return message["ok"]
        except TimeoutError:
            logger.warning(
                "PKCS#11 worker (pid %s) gave no answer to %s within its timeout; killing it", proc.pid, op
            )
            await self._discard(proc)
            raise EidError("card_removed", "the eID card or reader did not answer in time") from None
        except (ConnectionError, BrokenPipeError, json.JSONDecodeError, KeyError, ValueError):
            logger.warning(
                "PKCS#11 worker (pid %s) stopped during %s; it restarts on the next call", proc.pid, op
            )
            await self._discard(proc)
            raise EidError("card_removed", "the eID middleware stopped during the operation") from None

    async def _discard(self, proc: asyncio.subprocess.Process) -> None:
        await _kill(proc)
        if self._proc is proc:
            self._proc = None


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        await asyncio.wait_for(proc.wait(), 5.0)
    except TimeoutError:  # pragma: no cover - SIGKILL cannot be refused
        logger.error("PKCS#11 worker (pid %s) survived SIGKILL", proc.pid)


# --- the child -------------------------------------------------------------------------------------------


def _handle(
    op: str, args: dict[str, Any], module_path: str, label: str, libraries: LibraryCache, emit: Any
) -> Any:
    if op == "ping":
        return "pong"
    if op == "status":
        return token_status(module_path, label, libraries=libraries).to_json()
    if op == "read_auth_certificate":
        return base64.b64encode(read_auth_certificate(module_path, label, libraries=libraries)).decode(
            "ascii"
        )
    if op == "authenticate":
        return authenticate(
            module_path,
            label,
            args.get("pin"),
            args["origin"],
            args["nonce"],
            libraries=libraries,
            on_pinpad=lambda: emit({"event": "pinpad"}),
        )
    raise EidError("bad_request", "unknown worker operation")


def serve(module_path: str, label: str) -> None:
    """The child's loop: one JSON request per stdin line, answers on the original stdout."""
    protocol = os.fdopen(os.dup(1), "wb", buffering=0)
    # Whatever a C library prints must not land in the protocol stream.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    libraries = LibraryCache()
    try:
        for line in sys.stdin.buffer:
            request = json.loads(line)
            request_id = request.get("id")

            def emit(message: dict[str, Any], request_id: Any = request_id) -> None:
                protocol.write(json.dumps({"id": request_id, **message}).encode() + b"\n")

            try:
                emit(
                    {
                        "ok": _handle(
                            request["op"], request.get("args", {}), module_path, label, libraries, emit
                        )
                    }
                )
            except EidError as exc:
                emit({"error": exc.to_json()["error"]})
            except Exception:
                # The traceback goes to stderr; the answer carries no detail that could hold card data.
                logging.getLogger(__name__).exception("PKCS#11 worker operation %s failed", request.get("op"))
                emit({"error": {"code": "no_card", "message": "the eID card operation failed unexpectedly"}})
    finally:
        libraries.close()


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="eid-worker %(levelname)s %(message)s"
    )
    serve(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else DEFAULT_LABEL)


if __name__ == "__main__":
    main()
