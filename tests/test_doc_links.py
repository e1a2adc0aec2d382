"""Every external link of the docs is well formed and listed on one references page.

Sphinx's ``linkcheck`` needs the network, which the suite never has; it is
run by hand (``python -m sphinx -b linkcheck docs docs/_build/linkcheck``).
What can be checked offline is checked here: the links are parsed as MyST
parses them (so URLs inside code blocks are not links), each must be a
plausible ``https://`` URL, and each document they point to must be listed
exactly once on ``docs/references.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCES = DOCS / "references.md"
# Files outside docs/ that pages include ({include} ../CHANGELOG.md ...).
INCLUDED = ("CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md")
# A DNS name of at least two labels: what a real link's host looks like.
HOST_RE = re.compile(
    r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
# Names reserved for examples (RFC 2606, RFC 6761): never a real link.
EXAMPLE_RE = re.compile(
    r"(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$"
)

mdit = pytest.importorskip(
    "myst_parser.parsers.mdit", reason="myst-parser is not installed"
)


def markdown_files() -> list[Path]:
    files = sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)
    files += [ROOT / name for name in INCLUDED if (ROOT / name).is_file()]
    assert REFERENCES in files
    return files


def links(path: Path) -> Iterator[str]:
    """The link targets of a Markdown file, as MyST parses it."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig

    config = MdParserConfig(enable_extensions={"colon_fence", "deflist", "fieldlist"})
    parser = mdit.create_md_parser(config, RendererHTML)
    for token in parser.parse(path.read_text(encoding="utf-8")):
        for child in token.children or ():
            if child.type == "link_open":
                yield str(child.attrs.get("href", ""))


def external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)) and not (
        target.startswith(("mailto:", "#"))
    )


def document(url: str) -> str:
    """The URL without its fragment: the document a reference names."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def all_external_links() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in markdown_files():
        for target in links(path):
            if external(target):
                found.setdefault(target, []).append(path)
    return found


def problems_with(url: str) -> list[str]:
    problems = []
    parts = urlsplit(url)
    if parts.scheme != "https":
        problems.append("not https://")
    host = (parts.hostname or "").lower()
    if not HOST_RE.match(host):
        problems.append(f"host {host!r} is not a DNS name")
    elif EXAMPLE_RE.search(host):
        problems.append(f"host {host!r} is reserved for examples")
    if parts.username or parts.password or parts.port:
        problems.append("carries credentials or a port")
    if re.search(r"[\s<>\"'`…]", url):
        problems.append("contains white space, quotes or an ellipsis")
    if url.count("(") != url.count(")"):
        problems.append("unbalanced parentheses")
    if url.endswith((".", ",", ";", ":")):
        problems.append("ends in punctuation")
    return problems


def test_the_docs_link_to_their_sources() -> None:
    # The explanation page alone cites a few dozen; a parser that found
    # nothing would make every other test here pass vacuously.
    assert len(all_external_links()) > 30


def test_every_external_link_is_well_formed() -> None:
    bad = {
        url: (problems, [str(p.relative_to(ROOT)) for p in paths])
        for url, paths in all_external_links().items()
        if (problems := problems_with(url))
    }
    assert bad == {}


def test_every_external_link_is_on_the_references_page() -> None:
    listed = {document(url) for url in links(REFERENCES) if external(url)}
    missing = {
        url: [str(p.relative_to(ROOT)) for p in paths]
        for url, paths in all_external_links().items()
        if document(url) not in listed
    }
    assert missing == {}, "add each to docs/references.md, once"


def test_the_references_page_lists_each_document_once() -> None:
    listed = [url for url in links(REFERENCES) if external(url)]
    assert all(urlsplit(url).fragment == "" for url in listed), (
        "list documents; pages link to their sections"
    )
    twice = [url for url, count in Counter(listed).items() if count > 1]
    assert twice == []


def test_every_reference_is_cited_somewhere_else() -> None:
    cited = {
        document(url)
        for path in markdown_files()
        if path != REFERENCES
        for url in links(path)
        if external(url)
    }
    unused = [url for url in links(REFERENCES) if external(url) and url not in cited]
    assert unused == [], "cite each reference from a page, or drop it"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://www.rfc-editor.org/rfc/rfc6455", "not https://"),
        ("https://example.com/feed", "reserved for examples"),
        ("https://api.example.test/", "reserved for examples"),
        ("https://localhost:8080/", "not a DNS name"),
        ("https://www.rfc-editor.org/rfc/rfc 6455", "white space"),
        ("https://docs.python.org/3/library/ssl.html).", "parentheses"),
        ("https://semver.org/…", "ellipsis"),
    ],
)
def test_malformed_links_are_caught(url: str, problem: str) -> None:
    assert any(problem in text for text in problems_with(url)), problems_with(url)


def test_links_in_code_blocks_are_not_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See [the RFC](https://www.rfc-editor.org/rfc/rfc7469#section-2.4).\n\n"
        "```console\n$ curl https://example.com/\n```\n",
        encoding="utf-8",
    )
    assert list(links(page)) == ["https://www.rfc-editor.org/rfc/rfc7469#section-2.4"]
