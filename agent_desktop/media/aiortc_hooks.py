"""The private aiortc/aioice details the media room relies on, checked by name *and signature* at start-up.

Three things we need are not public API: restricting a peer's ICE host candidates (aioice's
`Connection.get_component_candidates`, reached through `RTCIceGatherer._connection`) and taking the browser's G.711
straight off an RTP receiver (`RTCRtpReceiver._handle_rtp_packet` and its name-mangled remote stream statistics),
and keeping datagrams pylibsrtp cannot take from aiortc's receive loop (`RTCIceTransport._recv`).
`pyproject.toml` bounds aiortc and aioice to the range these were tested with; this module is the second guard: if a
release (or a pip override of the bound) moves or reshapes any of them, the desk refuses to start and says which
hook changed, instead of failing at the first call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata

from aioice import Connection
from aiortc import RTCRtpReceiver
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from aiortc.rtcrtpreceiver import StreamStatistics

TESTED = {"aiortc": "1.16", "aioice": "0.13"}


@dataclass(frozen=True)
class Hook:
    """One private detail: where it is, the parameters we call it with, and which of our modules uses it."""

    where: str
    get: Callable[[], object]
    parameters: tuple[str, ...]
    used_by: str


HOOKS: tuple[Hook, ...] = (
    Hook(
        "aioice.Connection.get_component_candidates",
        lambda: Connection.get_component_candidates,
        ("self", "component", "addresses"),
        "agent_desktop/media/rtc_factory.py (ICE host addresses)",
    ),
    Hook(
        "aiortc.RTCIceGatherer._connection",
        lambda: type(getattr(RTCIceGatherer(iceServers=[]), "_connection", None)).get_component_candidates,
        ("self", "component", "addresses"),
        "agent_desktop/media/rtc_factory.py (ICE host addresses)",
    ),
    Hook(
        "aiortc.RTCRtpReceiver._handle_rtp_packet",
        lambda: RTCRtpReceiver._handle_rtp_packet,
        ("self", "packet", "arrival_time_ms"),
        "agent_desktop/media/agent_peer.py (the agent's G.711 to the call)",
    ),
    Hook(
        "aiortc.RTCRtpReceiver.__remote_streams",
        lambda: _name_in_init(RTCRtpReceiver, "_RTCRtpReceiver__remote_streams"),
        (),
        "agent_desktop/media/agent_peer.py (receiver statistics)",
    ),
    Hook(
        "aiortc.RTCIceTransport._recv",
        lambda: _name_in_init(RTCIceTransport, "_recv"),
        (),
        "agent_desktop/media/rtc_factory.py (oversized datagrams kept from pylibsrtp)",
    ),
    Hook(
        "aiortc.rtcrtpreceiver.StreamStatistics.add",
        lambda: StreamStatistics.add,
        ("self", "packet"),
        "agent_desktop/media/agent_peer.py (receiver statistics)",
    ),
)


def _name_in_init(cls: type, name: str) -> object:
    if name not in cls.__init__.__code__.co_names:
        raise AttributeError(name)
    return name


def _problem(hook: Hook) -> str | None:
    try:
        target = hook.get()
    except (AttributeError, TypeError) as exc:
        return f"{hook.where} is gone ({exc})"
    if not hook.parameters:
        return None
    if not callable(target):
        return f"{hook.where} is no longer callable"
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return f"{hook.where} has no readable signature"
    names = tuple(p.name for p in params)
    # We call it with exactly these arguments: a new parameter is fine only if it has a default.
    extra_required = [p.name for p in params[len(hook.parameters) :] if p.default is inspect.Parameter.empty]
    if names[: len(hook.parameters)] != hook.parameters or extra_required:
        return f"{hook.where} now takes ({', '.join(names)}), not ({', '.join(hook.parameters)})"
    return None


def installed_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in TESTED}


def check(hooks: Iterable[Hook] = HOOKS) -> None:
    """Raise RuntimeError naming every private detail that moved, the installed and the tested versions."""
    problems = [f"  - {p} (used by {hook.used_by})" for hook in hooks if (p := _problem(hook))]
    if problems:
        versions = ", ".join(f"{name} {version}" for name, version in installed_versions().items())
        tested = ", ".join(f"{name} {version}.x" for name, version in TESTED.items())
        raise RuntimeError(
            f"this aiortc/aioice ({versions}; tested: {tested}) changed what the desk's media room relies on:\n"
            + "\n".join(problems)
            + "\ninstall the tested versions (pip install -c constraints.txt -e .) or adapt those modules"
        )
