"""Screen check: the largest attached screen in device pixels (Linux xrandr, Windows GetSystemMetrics with
DPI awareness, macOS system_profiler). Without a graphical session the check is `unknown`, with the reason."""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys

from hardware_check.checks.base import row, run_tool, unknown
from hardware_check.report import CheckResult

_XRANDR_OUTPUT = re.compile(r"^\S+ connected(?: primary)? (\d+)x(\d+)\+\d+\+\d+", re.MULTILINE)
_XRANDR_SCREEN = re.compile(r"current (\d+) x (\d+)")
_PIXELS = re.compile(r"(\d{3,5})\s*x\s*(\d{3,5})")


def parse_xrandr(text: str) -> list[tuple[int, int]]:
    """Sizes of the connected, active outputs; falls back to the whole X screen when none is listed."""
    sizes = [(int(w), int(h)) for w, h in _XRANDR_OUTPUT.findall(text)]
    if not sizes and (m := _XRANDR_SCREEN.search(text)):
        sizes = [(int(m.group(1)), int(m.group(2)))]
    return sizes


def parse_system_profiler(text: str) -> list[tuple[int, int]]:
    """Device-pixel sizes from `system_profiler SPDisplaysDataType -json` (prefers `_spdisplays_pixels`)."""
    sizes = []
    for gpu in json.loads(text).get("SPDisplaysDataType", []):
        for disp in gpu.get("spdisplays_ndrvs", []):
            raw = disp.get("_spdisplays_pixels") or disp.get("_spdisplays_resolution") or ""
            if m := _PIXELS.search(raw):
                sizes.append((int(m.group(1)), int(m.group(2))))
    return sizes


def _windows_size() -> tuple[int, int] | None:
    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    # Without DPI awareness Windows reports scaled ("logical") pixels; we need device pixels like the page.
    try:
        user32.SetProcessDPIAware()
    except AttributeError:
        pass
    w, h = user32.GetSystemMetrics(0), user32.GetSystemMetrics(1)
    return (int(w), int(h)) if w and h else None


def screen_sizes(platform: str = sys.platform) -> tuple[list[tuple[int, int]], str]:
    """(sizes, reason-when-empty)."""
    if platform.startswith("linux"):
        if not os.environ.get("DISPLAY"):
            if os.environ.get("WAYLAND_DISPLAY"):
                return (
                    [],
                    "Wayland session without X: screen size not readable from the CLI; use the browser preflight",
                )
            return (
                [],
                "no graphical display (DISPLAY is not set): run the check in the desktop session or use the browser preflight",
            )
        out = run_tool(["xrandr", "--current"], timeout=5.0)
        if out is None:
            return [], "xrandr is not installed or could not reach the display"
        sizes = parse_xrandr(out)
        return sizes, "" if sizes else "xrandr lists no connected screen"
    if platform == "win32":
        size = _windows_size()
        return ([size], "") if size else ([], "Windows did not report the screen size")
    if platform == "darwin":
        out = run_tool(["system_profiler", "SPDisplaysDataType", "-json"], timeout=15.0)
        if out is None:
            return [], "system_profiler could not list the displays"
        sizes = parse_system_profiler(out)
        return sizes, "" if sizes else "system_profiler lists no display"
    return [], f"screen size is not readable on this system ({platform})"


def check_screen() -> list[CheckResult]:
    sizes, reason = screen_sizes()
    if not sizes:
        return [unknown("screen", reason)]
    # The desk can be moved to the best screen, so the largest one counts.
    w, h = max(sizes, key=lambda s: s[0] * s[1])
    others = f"; {len(sizes)} screens" if len(sizes) > 1 else ""
    return [row("screen", f"{w}x{h}", f"largest screen {w}x{h} device pixels{others}")]
