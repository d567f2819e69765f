"""Memory check: total physical memory in GiB (Linux /proc/meminfo, macOS sysctl, Windows
GlobalMemoryStatusEx)."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

from hardware_check.checks.base import row, run_tool, unknown
from hardware_check.report import CheckResult

GIB = 1024**3


def parse_meminfo(text: str) -> int | None:
    """Bytes of MemTotal from /proc/meminfo text."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                factor = 1024 if len(parts) < 3 or parts[2].lower() == "kb" else 1
                return int(parts[1]) * factor
    return None


def _windows_total() -> int | None:
    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.ullTotalPhys)


def total_memory_bytes(platform: str = sys.platform, meminfo: Path = Path("/proc/meminfo")) -> int | None:
    if platform.startswith("linux"):
        try:
            return parse_meminfo(meminfo.read_text(encoding="ascii", errors="replace"))
        except OSError:
            return None
    if platform == "darwin":
        out = run_tool(["sysctl", "-n", "hw.memsize"])
        return int(out.strip()) if out and out.strip().isdigit() else None
    if platform == "win32":
        return _windows_total()
    return None


def check_memory(total_bytes: int | None = None) -> list[CheckResult]:
    total = total_memory_bytes() if total_bytes is None else total_bytes
    if not total:
        return [unknown("memory", f"total memory is not readable on this system ({sys.platform})")]
    # Floor, not round: the shown value is the judged value, and 3.499 GiB must not show (and pass) as 3.5.
    gib = (total * 100 // GIB) / 100
    return [row("memory", gib, f"{gib} GiB total physical memory")]
