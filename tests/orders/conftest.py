"""Fixtures of the call-order tests: the web tests' desk (real HTTP, real eID logins) and a store on a file."""

from __future__ import annotations

from tests.web import conftest as web_conftest

# The web tests' fixtures (same PKI, cards and desk).
web_pki = web_conftest.web_pki
cards = web_conftest.cards
desk = web_conftest.desk
