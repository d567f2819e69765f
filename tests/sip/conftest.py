"""Fixtures of the SIP room's tests: endpoints on free ports, RTP port ranges that do not collide."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agent_desktop.sip import EndpointConfig, SipEndpoint

_rtp_base = itertools.count(20000 + (os.getpid() % 200) * 100, 100)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            if port in (5060, 8080, 35963):
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def rtp_range() -> tuple[int, int]:
    base = next(_rtp_base)
    return (base, base + 98)


def make_config(**kw) -> EndpointConfig:
    kw.setdefault("listen_host", "127.0.0.1")
    kw.setdefault("listen_port", 0)
    kw.setdefault("rtp_ports", rtp_range())
    kw.setdefault("t1_ms", 100)
    return EndpointConfig(**kw)


@contextlib.asynccontextmanager
async def endpoint_pool() -> AsyncIterator[Callable[..., Awaitable[SipEndpoint]]]:
    """`make(on_incoming=None, **config)` starts an endpoint on free ports; all of them are stopped on exit."""
    started: list[SipEndpoint] = []

    async def make(on_incoming=None, **kw) -> SipEndpoint:
        ep = SipEndpoint(make_config(**kw), on_incoming or (lambda call: None))
        await ep.start()
        started.append(ep)
        return ep

    try:
        yield make
    finally:
        for ep in started:
            await ep.stop()


@pytest.fixture
async def endpoint_factory():
    async with endpoint_pool() as make:
        yield make
