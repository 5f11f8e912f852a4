"""README.md is a short front door; docs/ holds the rest, and every link between them leads somewhere."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

from config.declared import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 250

# [text](target) and ![alt](target), the target up to a space or ')' (an optional "title" after it).
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a Markdown file outside fenced code blocks, with their numbers."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def links(path: Path) -> list[tuple[int, str]]:
    """Every link target in a Markdown file, outside code, with its line number."""
    return [
        (number, target) for number, line in prose_lines(path) for target in LINK.findall(INLINE_CODE.sub("", line))
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters of any script, digits and '_'
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes for a Markdown file: one per heading, repeats numbered -1, -2, …"""
    seen: Counter[str] = Counter()
    found = set()
    for _, line in prose_lines(path):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", target)


def resolve(page: Path, target: str) -> tuple[Path, str]:
    """The file a relative link points at (the page itself for '#anchor') and its anchor ('' when none)."""
    file_part, _, anchor = target.partition("#")
    file_part = unquote(file_part.split("?", 1)[0])
    return ((page.parent / file_part).resolve() if file_part else page), unquote(anchor)


def test_readme_is_a_front_door() -> None:
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, (
        f"README.md has {count} lines, more than {MAX_README_LINES}: move the detail into a page under docs/"
        " (operators/, reviewers/, developers/ or evaluation/), link it from README.md's 'Where to read on'"
        " and from docs/README.md, and leave a one-line summary in the README"
    )


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    broken = []
    for page in pages():
        for number, target in links(page):
            if not is_relative(target):
                continue
            where = f"{page.relative_to(ROOT)}:{number}: ({target})"
            file, anchor = resolve(page, target)
            if not file.exists():
                broken.append(f"{where} points at {file.relative_to(ROOT)}, which does not exist")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                known = ", ".join(sorted(anchors(file)))
                broken.append(f"{where} has no heading #{anchor} in {file.relative_to(ROOT)} (it has: {known})")
    assert not broken, (
        "fix these links (the path is relative to the page; an anchor is the heading in GitHub's form:"
        " lower case, punctuation dropped, spaces as hyphens):\n" + "\n".join(broken)
    )


def test_every_docs_page_can_be_reached_from_the_readme() -> None:
    reached, todo = {README.resolve()}, [README.resolve()]
    while todo:
        page = todo.pop()
        for _, target in links(page):
            if not is_relative(target):
                continue
            file, _ = resolve(page, target)
            if file.suffix == ".md" and file.exists() and file not in reached:
                reached.add(file)
                todo.append(file)
    unreached = [str(p.relative_to(ROOT)) for p in sorted(DOCS.rglob("*.md")) if p.resolve() not in reached]
    assert not unreached, (
        "no chain of links from README.md leads to these pages: link each from docs/README.md (the index,"
        " itself linked from README.md) or from README.md's 'Where to read on': " + ", ".join(unreached)
    )


THREAT_MODEL = DOCS / "operators" / "threat-model.md"
ATTACKERS = ("(a) A chat account", "(b) A viewer login", "(c) Write access to the database", "(d) The data directory")


def test_the_threat_model_names_each_attacker_and_only_real_settings() -> None:
    text = THREAT_MODEL.read_text(encoding="utf-8")
    headings = [m.group(2) for _, line in prose_lines(THREAT_MODEL) if (m := HEADING.match(line))]
    assert all(attacker in headings for attacker in ATTACKERS), headings
    assert all("They **can" in part and "**cannot**" in part for part in text.split("\n## ")[1:])
    declared = {s.name for s in SETTINGS}
    named = set(re.findall(r"`((?:HOMEWARD|TELEGRAM|TWILIO|MONGODB|PUBLIC)_[A-Z_]+)", text))
    assert {n for n in named if n.removesuffix("_FILE") not in declared} == set()
    index = "operators/threat-model.md"
    assert index in (DOCS / "README.md").read_text() and f"docs/{index}" in README.read_text()


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other page\n\n## A `code` heading, with punctuation!\n")
    page.write_text(
        "See [there](other.md#a-code-heading-with-punctuation), [gone](missing.md),\n"
        "[bad anchor](other.md#nowhere), [web](https://example.org/x.md) and `[code](no.md)`.\n"
        "```\n[fenced](fenced.md)\n```\n"
    )
    targets = [target for _, target in links(page)]
    assert targets == [
        "other.md#a-code-heading-with-punctuation",
        "missing.md",
        "other.md#nowhere",
        "https://example.org/x.md",
    ]
    assert "a-code-heading-with-punctuation" in anchors(tmp_path / "other.md")
    assert not resolve(page, "missing.md")[0].exists()
    assert resolve(page, "other.md#nowhere")[1] not in anchors(tmp_path / "other.md")
    assert not is_relative("https://example.org/x.md")
