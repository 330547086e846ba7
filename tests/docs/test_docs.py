"""The README is a page a newcomer reads in five minutes; the manual under docs/ links only to files that exist
in the repository, never outside it; measured figures say when, on which commit and on what machine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)|<((?:https?|ftp)://[^>]+)>")


def links(page: Path) -> list[str]:
    text = re.sub(r"<!--.*?-->", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [a or b for a, b in LINK.findall(text)]


def test_the_readme_is_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size < 10 * 1024, f"README.md is {size} bytes; move detail to a page under docs/"


def test_the_pages_are_found() -> None:
    names = {page.name for page in PAGES}
    assert {"README.md", "configuration.md", "api.md", "reports.md", "dashboard.md", "edge.md"} <= names
    assert {"access.md", "measured.md", "glossary.md", "protocol.md"} <= names
    assert all(links(page) for page in PAGES if page.name in {"README.md", "edge.md", "dashboard.md"})


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_stays_in_the_repository_and_resolves(page: Path) -> None:
    for target in links(page):
        assert not re.match(r"[a-z]+:", target), f"{page.name} links outside the repository: {target}"
        path = (page.parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links to a missing file: {target}"


def test_measured_figures_carry_date_commit_and_machine() -> None:
    text = (ROOT / "docs" / "measured.md").read_text(encoding="utf-8")
    head = text[:800]
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", head), "the date of the measurements"
    assert re.search(r"`[0-9a-f]{7,40}`", head), "the commit measured"
    assert "2-core x86-64" in head, "the machine"
