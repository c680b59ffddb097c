"""The README and docs/: a newcomer's page of bounded length, and every relative link resolves (files
inside the repository, anchors to headings that exist)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # an address outside the repository (https:, mailto:)
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(root) or not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(target)
    return broken


def test_every_relative_link_resolves_inside_the_repository():
    assert len(PAGES) > 5
    assert {str(page.relative_to(ROOT)): broken_links(page) for page in PAGES if broken_links(page)} == {}


def test_the_readme_is_a_newcomers_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text), "no commit hashes in the README"
    assert "../" not in text, "the README points outside the repository"


def test_the_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Title\n[ok](#title) [gone](missing.md) [bad anchor](#nowhere) [web](https://x.org)\n")
    assert broken_links(page, tmp_path) == ["missing.md", "#nowhere"]
    assert broken_links(page, tmp_path / "elsewhere") == ["#title", "missing.md", "#nowhere"]
