"""The advice `hardware-check` prints is about the PC it runs on: a terminal has no address bar, so the
microphone advice names no browser padlock (the browser page adds its own permission hint; see preflight.js)."""

from __future__ import annotations

import pytest

from hardware_check.checks.audio import AudioDevices, judge_devices
from hardware_check.cli import render_table
from hardware_check.report import Report

BROWSER_WORDS = ("padlock", "slotje", "cadenas", "browser", "navigateur", "adres", "address")


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_no_microphone_advice_speaks_of_the_pc_not_a_browser(lang):
    report = Report("cli", "2026-01-12T10:00:00Z", "2026-01-12T10:00:05Z", judge_devices(AudioDevices()))
    table = render_table(report, lang)
    [advice] = [line for line in table.splitlines() if "→" in line and ("micro" in line.lower())]
    assert not [word for word in BROWSER_WORDS if word in advice.lower()], advice
