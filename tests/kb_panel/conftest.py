"""Fixtures of the scripts-panel tests: desks with the demo KB (see tests/wrapup/desks.py)."""

from __future__ import annotations

from tests.web import conftest as web_conftest
from tests.wrapup import desks

web_pki = web_conftest.web_pki
cards = web_conftest.cards
smtp = desks.smtp  # the SMTP sink fixture, defined once in desks.py
