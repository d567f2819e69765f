"""Audio device checks: microphone (an input device), speaker (an output device) and headset (a device whose
name says headset). Linux: PulseAudio/PipeWire via `pactl` when a sound server answers, else ALSA's
/proc/asound; macOS: system_profiler. Windows device names do not tell input from output reliably in every
language, so there the rows are `unknown` and the browser preflight (which lists devices itself) decides."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hardware_check.checks.base import row, run_tool, unknown
from hardware_check.report import CheckResult

# Lower-case name fragments of headsets and headset profiles (Bluetooth hands-free, the brands centres buy).
HEADSET_HINTS = (
    "headset",
    "headphone",
    "casque",
    "hoofdtelefoon",
    "hands-free",
    "handsfree",
    "head_unit",
    "jabra",
    "plantronics",
    "poly ",
    "sennheiser",
    "epos",
    "logitech h",
    "logi zone",
    "hyperx",
    "evolve",
)


@dataclass
class AudioDevices:
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    origin: str = ""


def parse_pactl_short(text: str, monitors: bool = False) -> list[str]:
    """Device names from `pactl list short sources|sinks`; a sink's `.monitor` source is no microphone."""
    names = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[1]:
            if not monitors and parts[1].endswith(".monitor"):
                continue
            names.append(parts[1])
    return names


def parse_asound(cards_text: str, pcm_text: str) -> AudioDevices:
    """ALSA PCM devices ("00-00: ALC892 Analog : ALC892 Analog : playback 1 : capture 1") named after their
    card ("0 [PCH ]: HDA-Intel - HDA Intel PCH")."""
    cards: dict[int, str] = {}
    for m in re.finditer(r"^\s*(\d+)\s+\[[^\]]*\]:\s*(.+)$", cards_text, re.MULTILINE):
        cards[int(m.group(1))] = m.group(2).strip()
    devices = AudioDevices(origin="ALSA /proc/asound")
    for line in pcm_text.splitlines():
        m = re.match(r"^(\d+)-(\d+):\s*([^:]*):", line)
        if not m:
            continue
        name = f"{cards.get(int(m.group(1)), 'card ' + m.group(1))}: {m.group(3).strip()}"
        if "capture" in line:
            devices.inputs.append(name)
        if "playback" in line:
            devices.outputs.append(name)
    return devices


def parse_macos(text: str) -> AudioDevices:
    devices = AudioDevices(origin="system_profiler")
    for group in json.loads(text).get("SPAudioDataType", []):
        for item in group.get("_items", []):
            name = str(item.get("_name", "?"))
            if item.get("coreaudio_device_input"):
                devices.inputs.append(name)
            if item.get("coreaudio_device_output"):
                devices.outputs.append(name)
    return devices


def _linux_devices(asound: Path) -> tuple[AudioDevices | None, str]:
    sources = run_tool(["pactl", "list", "short", "sources"])
    sinks = run_tool(["pactl", "list", "short", "sinks"])
    if sources is not None and sinks is not None:
        return AudioDevices(parse_pactl_short(sources), parse_pactl_short(sinks), "PulseAudio/PipeWire"), ""
    if not asound.is_dir():
        return AudioDevices(
            origin="none"
        ), "no sound card: no sound server answers and /proc/asound is absent"
    try:
        cards = (asound / "cards").read_text(errors="replace")
        pcm = (asound / "pcm").read_text(errors="replace") if (asound / "pcm").exists() else ""
    except OSError as exc:
        return None, f"ALSA device list not readable: {exc}"
    return parse_asound(cards, pcm), ""


def list_devices(
    platform: str = sys.platform, asound: Path = Path("/proc/asound")
) -> tuple[AudioDevices | None, str]:
    """(devices, note): devices None when listing is impossible here (note says why)."""
    if platform.startswith("linux"):
        return _linux_devices(asound)
    if platform == "darwin":
        out = run_tool(["system_profiler", "SPAudioDataType", "-json"], timeout=15.0)
        if out is None:
            return None, "system_profiler could not list the audio devices"
        return parse_macos(out), ""
    return (
        None,
        f"audio devices are not listed by the CLI on this system ({platform}): use the browser preflight",
    )


def is_headset(name: str) -> bool:
    low = name.lower().replace("_", " ")
    return any(hint.replace("_", " ") in low for hint in HEADSET_HINTS)


def _names(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" (+{len(names) - 6} more)" if len(names) > 6 else "")


def judge_devices(devices: AudioDevices, note: str = "") -> list[CheckResult]:
    why = f" ({note})" if note else ""
    mic = (
        row(
            "microphone",
            len(devices.inputs),
            f"{len(devices.inputs)} input device(s): {_names(devices.inputs)}",
        )
        if devices.inputs
        else row("microphone", 0, f"no audio input device found{why}")
    )
    spk = (
        row(
            "speaker",
            len(devices.outputs),
            f"{len(devices.outputs)} output device(s): {_names(devices.outputs)}",
        )
        if devices.outputs
        else row("speaker", 0, f"no audio output device found{why}")
    )
    headsets = sorted({n for n in devices.inputs + devices.outputs if is_headset(n)})
    if headsets:
        head = row("headset", len(headsets), f"headset by name: {_names(headsets)}")
    elif devices.inputs or devices.outputs:
        head = row(
            "headset",
            0,
            "no device is named like a headset (it may still be one: check the name in the browser preflight)",
        )
    else:
        head = row("headset", 0, f"no headset: no audio device at all{why}")
    return [mic, spk, head]


def check_audio() -> list[CheckResult]:
    devices, note = list_devices()
    if devices is None:
        return [unknown(n, note) for n in ("microphone", "speaker", "headset")]
    return judge_devices(devices, note)
