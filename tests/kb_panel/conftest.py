"""Fixtures of the scripts-panel tests: desks with the demo KB (see tests/wrapup/desks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web import conftest as web_conftest
from tests.wrapup.desks import SmtpSink

web_pki = web_conftest.web_pki
cards = web_conftest.cards


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
