"""The start-up guard on aiortc/aioice private details: the installed versions pass, and a hook that moved or
changed its signature stops start-up with a message naming it and the versions."""

from __future__ import annotations

import pytest
from aioice import Connection
from aiortc import RTCRtpReceiver

from agent_desktop.media import aiortc_hooks
from agent_desktop.media.rtc_factory import RtcSettings


def test_the_installed_aiortc_and_aioice_have_every_hook() -> None:
    aiortc_hooks.check()
    versions = aiortc_hooks.installed_versions()
    for name, tested in aiortc_hooks.TESTED.items():
        assert versions[name].startswith(tested + "."), (
            f"{name} {versions[name]} is outside pyproject's bound"
        )


def test_a_changed_signature_stops_start_up_naming_the_hook(monkeypatch) -> None:
    async def grown(self, packet, arrival_time_ms, ssrc_hint=None):
        return None

    async def needs_more(self, packet, arrival_time_ms, transport):
        return None

    async def renamed(self, rtp_packet, arrival_time):
        return None

    monkeypatch.setattr(RTCRtpReceiver, "_handle_rtp_packet", renamed)
    with pytest.raises(RuntimeError) as stopped:
        aiortc_hooks.check()
    message = str(stopped.value)
    assert "RTCRtpReceiver._handle_rtp_packet now takes (self, rtp_packet, arrival_time)" in message
    assert "agent_desktop/media/agent_peer.py" in message
    assert "tested: aiortc 1.16.x" in message

    monkeypatch.setattr(RTCRtpReceiver, "_handle_rtp_packet", needs_more)
    with pytest.raises(RuntimeError, match="arrival_time_ms, transport"):
        aiortc_hooks.check()

    monkeypatch.setattr(RTCRtpReceiver, "_handle_rtp_packet", grown)
    aiortc_hooks.check()  # a new optional parameter does not change how we call it


def test_a_vanished_hook_stops_the_desk_at_start_up(monkeypatch) -> None:
    monkeypatch.delattr(Connection, "get_component_candidates")
    with pytest.raises(RuntimeError, match="get_component_candidates is gone"):
        RtcSettings.from_config(_webrtc_config())


def _webrtc_config():
    from agent_desktop.config import WebRtcConfig

    return WebRtcConfig()
