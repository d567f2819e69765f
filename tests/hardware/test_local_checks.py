"""Local checks (cpu, memory, screen, audio) and the never-raise guard, with real parsers on sample outputs
and the real behaviour of this headless machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hardware_check.checks.audio import (
    AudioDevices,
    check_audio,
    is_headset,
    judge_devices,
    list_devices,
    parse_asound,
    parse_pactl_short,
)
from hardware_check.checks.base import guarded
from hardware_check.checks.cpu import check_cpu
from hardware_check.checks.memory import GIB, check_memory, parse_meminfo, total_memory_bytes
from hardware_check.checks.screen import check_screen, parse_system_profiler, parse_xrandr


def test_cpu_reports_logical_cores() -> None:
    [row] = check_cpu()
    assert row.value == os.cpu_count() and row.unit == "cores"
    assert check_cpu(1)[0].status == "fail"
    assert check_cpu(2)[0].status == "pass"


def test_memory_edges_with_floor() -> None:
    assert check_memory(int(3.5 * GIB))[0].status == "pass"
    just_under = check_memory(int(3.5 * GIB) - 1024 * 1024)[0]
    assert (just_under.value, just_under.status) == (3.49, "warn")
    assert check_memory(int(3.0 * GIB))[0].status == "warn"
    assert check_memory(int(2.9 * GIB))[0].status == "fail"
    assert check_memory(round(3.9 * GIB))[0].value == 3.9


def test_meminfo_on_this_machine() -> None:
    assert parse_meminfo("MemFree: 1 kB\nMemTotal:       3917212 kB\n") == 3917212 * 1024
    assert parse_meminfo("nothing") is None
    total = total_memory_bytes()
    assert total and total > 256 * 1024 * 1024
    assert total_memory_bytes(platform="sunos") is None


def test_memory_unreadable_is_unknown(tmp_path: Path) -> None:
    assert total_memory_bytes(meminfo=tmp_path / "missing") is None


XRANDR = """Screen 0: minimum 320 x 200, current 3200 x 1080, maximum 16384 x 16384
eDP-1 connected primary 1280x720+0+0 (normal left inverted right x axis y axis) 309mm x 174mm
   1280x720     60.00*+
HDMI-1 connected 1920x1080+1280+0 (normal left inverted right x axis y axis) 527mm x 296mm
DP-1 disconnected (normal left inverted right x axis y axis)
"""


def test_parse_xrandr_lists_connected_outputs() -> None:
    assert parse_xrandr(XRANDR) == [(1280, 720), (1920, 1080)]
    assert parse_xrandr("Screen 0: minimum 8 x 8, current 1024 x 768, maximum 32767 x 32767\n") == [
        (1024, 768)
    ]


def test_parse_system_profiler() -> None:
    text = '{"SPDisplaysDataType": [{"spdisplays_ndrvs": [{"_name": "Color LCD", "_spdisplays_pixels": "2880 x 1800", "_spdisplays_resolution": "1440 x 900 @ 60.00Hz"}]}]}'
    assert parse_system_profiler(text) == [(2880, 1800)]


def test_screen_without_display_is_unknown_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    [row] = check_screen()
    assert row.status == "unknown" and row.value is None
    assert "DISPLAY" in row.detail


PCM = """00-00: ALC892 Analog : ALC892 Analog : playback 1 : capture 1
00-03: HDMI 0 : HDMI 0 : playback 1
01-00: USB Audio : USB Audio : playback 1 : capture 1
"""
CARDS = """ 0 [PCH            ]: HDA-Intel - HDA Intel PCH
                      HDA Intel PCH at 0xf7f10000 irq 32
 1 [Headset        ]: USB-Audio - Jabra EVOLVE2 65
                      GN Audio A/S Jabra EVOLVE2 65 at usb-0000:00:14.0-2, full speed
"""


def test_parse_asound() -> None:
    dev = parse_asound(CARDS, PCM)
    assert dev.inputs == [
        "HDA-Intel - HDA Intel PCH: ALC892 Analog",
        "USB-Audio - Jabra EVOLVE2 65: USB Audio",
    ]
    assert len(dev.outputs) == 3
    mic, spk, head = judge_devices(dev)
    assert (mic.status, mic.value, spk.status, spk.value) == ("pass", 2, "pass", 3)
    assert head.status == "pass" and "Jabra" in head.detail


def test_parse_pactl_skips_monitors() -> None:
    sources = "0\talsa_output.pci-0000_00_1f.3.analog-stereo.monitor\tmodule-alsa-card.c\ts16le 2ch 44100Hz\tIDLE\n1\talsa_input.usb-Plantronics_Blackwire_3220-00.analog-stereo\tmodule-alsa-card.c\ts16le 2ch 44100Hz\tIDLE\n"
    assert parse_pactl_short(sources) == ["alsa_input.usb-Plantronics_Blackwire_3220-00.analog-stereo"]


@pytest.mark.parametrize(
    ("name", "yes"),
    [
        ("Jabra EVOLVE2 65", True),
        ("bluez_input.00_1B_66.headset_head_unit", True),
        ("Casque (Logitech H390)", True),
        ("HDA Intel PCH: ALC892 Analog", False),
        ("Speakers (Realtek(R) Audio)", False),
    ],
)
def test_headset_by_name(name: str, yes: bool) -> None:
    assert is_headset(name) is yes


def test_speakers_only_warns_headset() -> None:
    mic, spk, head = judge_devices(AudioDevices(inputs=["Webcam mic"], outputs=["HDMI"]))
    assert (mic.status, spk.status, head.status, head.value) == ("pass", "pass", "warn", 0)


def test_no_sound_card_on_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pactl
    devices, note = list_devices(asound=tmp_path / "asound")
    assert devices is not None and not devices.inputs
    mic, spk, head = judge_devices(devices, note)
    assert (mic.status, spk.status, head.status) == ("fail", "fail", "warn")
    assert "no audio input device found" in mic.detail and "no sound card" in mic.detail
    assert "no audio output device found" in spk.detail


def test_audio_on_other_systems_is_unknown() -> None:
    devices, note = list_devices(platform="win32")
    assert devices is None and "browser preflight" in note


def test_check_audio_never_raises_here() -> None:
    rows = check_audio()
    assert [r.name for r in rows] == ["microphone", "speaker", "headset"]
    assert all(r.status in ("pass", "warn", "fail", "unknown") and r.detail for r in rows)


def test_guard_turns_exceptions_into_unknown() -> None:
    def boom() -> list:
        raise RuntimeError("probe exploded")

    rows = guarded(["microphone", "speaker"], boom)
    assert [(r.name, r.status, r.unit) for r in rows] == [
        ("microphone", "unknown", "devices"),
        ("speaker", "unknown", "devices"),
    ]
    assert "RuntimeError: probe exploded" in rows[0].detail
