"""The suite's own failure screenshots (e2e/conftest.py): a deliberately failing test file is run by a pytest in a
subprocess, and the PNGs must be left in E2E_ARTIFACTS for each way a test holds its page: a context it closes
itself in `finally`, a page from `browser.new_page()` it never closes, and one a fixture closes after the test. A
passing test leaves none."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from e2e.conftest import ROOT

pytestmark = pytest.mark.timeout(180)

FAILING = """
import pytest


@pytest.fixture
def fixture_page(chromium):
    context = chromium().new_context()
    page = context.new_page()
    yield page
    context.close()


def test_closes_its_own_context_in_finally(chromium):
    context = chromium().new_context()
    try:
        page = context.new_page()
        page.set_content("<h1>closed in finally</h1>")
        assert page.title() == "never"
    finally:
        context.close()


def test_leaves_a_new_page_open(chromium):
    page = chromium().new_page()
    page.set_content("<h1>left open</h1>")
    assert False, "on purpose"


def test_page_of_a_fixture(fixture_page):
    fixture_page.set_content("<h1>closed by the fixture</h1>")
    assert False, "on purpose"


def test_passes(chromium):
    context = chromium().new_context()
    try:
        context.new_page().set_content("<h1>fine</h1>")
    finally:
        context.close()
"""


def test_failing_tests_leave_a_screenshot_of_each_open_page(tmp_path: Path) -> None:
    # Under e2e/ so that its conftest (and the root's Chromium fixture) apply, as to any test of the suite.
    folder = ROOT / "e2e" / f".selftest-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    artifacts = tmp_path / "artifacts"
    try:
        (folder / "test_fails_on_purpose_e2e.py").write_text(FAILING)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", str(folder)],
            cwd=ROOT,
            env={**os.environ, "E2E_ARTIFACTS": str(artifacts)},
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "3 failed, 1 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    for test in (
        "test_closes_its_own_context_in_finally",
        "test_leaves_a_new_page_open",
        "test_page_of_a_fixture",
    ):
        assert any(name.startswith(f"FAILED-{test}-") for name in shots), (test, shots)
    assert not [name for name in shots if "test_passes" in name], shots
    # with E2E_ARTIFACTS every context is traced; a trace closed before the outcome was known is renamed after
    traces = sorted(p.name for p in artifacts.glob("*.zip"))
    assert "FAILED-test_closes_its_own_context_in_finally.zip" in traces, traces
    assert "test_passes.zip" in traces, traces
    for png in artifacts.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
