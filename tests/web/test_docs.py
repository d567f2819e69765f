"""The documents a new user reads from a fresh clone: README and docs/ARCHITECTURE.md link only to what the
repository holds, name files that exist, and keep the set-up to two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text()


def test_links_point_into_the_repository():
    for name, text, base in (("README", README, ROOT), ("ARCHITECTURE", ARCHITECTURE, ROOT / "docs")):
        assert "shared/DESIGN.md" not in text, name
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://")):
                assert (base / target).exists(), f"{name} links to {target}, which is not in the repository"
    assert "(docs/ARCHITECTURE.md)" in README


def test_no_document_points_outside_the_repository():
    """A user's clone has no `../shared`: every document the repository ships stands on its own."""
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text and "shared/DESIGN.md" not in text, doc.name
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (doc.parent / target).exists(), (
                    f"{doc.name} links to {target}, which is not in the repository"
                )


def test_paths_named_in_the_architecture_exist():
    named = set(re.findall(r"`((?:agent_desktop|hardware_check|kb_client)/[\w/.]*)`", ARCHITECTURE))
    assert len(named) > 10
    assert [p for p in named if not (ROOT / p).exists()] == []


def test_readme_sets_up_with_two_commands_and_says_how_to_stop_and_call():
    block = re.search(r"## Set-up.*?```sh\n(.*?)```", README, re.S).group(1)
    assert [line.split("#")[0].strip() for line in block.splitlines() if line.strip()] == [
        "make run",
        "make test",
    ]
    assert "Ctrl-C" in README and "second terminal" in README and "demo-call" in README
    assert "--module" in README and "hardware-check" in README
