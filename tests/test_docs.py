"""The documentation builds without a warning, and its examples run.

The build is nitpicky (``-n``) with warnings as errors (``-W``), so a
reference to a pinws name that does not exist fails here, as does a public
name the reference forgets. The doctest build runs every ``>>>`` example of
the docs (the tutorial's against a real loopback server) and of the
docstrings they include.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pinws

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# What CI installs with the ``test`` extra; ``pip install '.[docs]'`` locally.
DOC_TOOLS = ("sphinx", "myst_parser", "furo", "sphinxcontrib.mermaid")
MISSING_TOOLS = [name for name in DOC_TOOLS if importlib.util.find_spec(name) is None]
needs_sphinx = pytest.mark.skipif(
    bool(MISSING_TOOLS),
    reason=(
        f"{', '.join(MISSING_TOOLS)} not installed: install the docs tools with "
        "pip install '.[docs]' (CI gets them from the 'test' extra)"
    ),
)

# The build must stay well inside pytest's 60 s timeout on a 2-core machine.
BUILD_SECONDS = 45.0


def sphinx_build(builder: str, source: Path, output: Path) -> tuple[float, str]:
    """Run sphinx-build as CI does; return the seconds it took and its output."""
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-n",
        "-W",
        "--keep-going",
        "-q",
        "-b",
        builder,
        "-d",
        str(output / ".doctrees"),
        str(source),
        str(output),
    ]
    env = dict(os.environ)
    # The docs describe the source tree even when built from a copy of docs/.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    started = time.monotonic()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=str(ROOT),
        timeout=BUILD_SECONDS + 10,
        check=False,
    )
    elapsed = time.monotonic() - started
    output_text = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"sphinx-build -b {builder} failed ({result.returncode}):\n{output_text}"
    )
    return elapsed, output_text


def optional_pages() -> tuple[str, ...]:
    """conf.py's OPTIONAL_PAGES, read without running conf.py."""
    tree = ast.parse((DOCS / "conf.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "OPTIONAL_PAGES"
            for target in node.targets
        ):
            pages = ast.literal_eval(node.value)
            assert pages, "conf.py lists no optional pages"
            return tuple(pages)
    raise AssertionError("conf.py has no OPTIONAL_PAGES")


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("html")
    elapsed, _ = sphinx_build("html", DOCS, output)
    assert elapsed < BUILD_SECONDS, f"the HTML build took {elapsed:.1f} s"
    return output


@needs_sphinx
def test_html_builds_with_no_warning_and_every_page_is_written(html: Path) -> None:
    for page in (
        "index",
        "tutorial",
        "reference",
        "topics/pinning",
        "topics/threads",
        "topics/websockets",
        "howto-migrate",
        "howto-openssl",
        "howto-proxy",
        "howto-mitmproxy",
        "internals/seams",
        "contributing",
        "security",
        "changelog",
        "references",
    ):
        assert (html / f"{page}.html").is_file(), page
    changelog = (html / "changelog.html").read_text(encoding="utf-8")
    assert "Keep a Changelog" in changelog  # included from ../CHANGELOG.md
    # Included from ../CONTRIBUTING.md and ../SECURITY.md.
    assert "Run the test suite" in (html / "contributing.html").read_text("utf-8")
    security = (html / "security.html").read_text(encoding="utf-8")
    assert "Report a vulnerability" in security


@needs_sphinx
def test_the_sequence_diagram_is_in_the_page_for_the_browser_to_draw(
    html: Path,
) -> None:
    page = (html / "topics" / "websockets.html").read_text(encoding="utf-8")
    assert 'class="mermaid' in page
    assert "sequenceDiagram" in page
    assert "PIN CHECK HERE" in page


@needs_sphinx
def test_the_index_does_not_repeat_the_navigation(html: Path) -> None:
    index = (html / "index.html").read_text(encoding="utf-8")
    body = index[index.index('<article role="main"') :]
    body = body[: body.index("</article>")]
    # Hidden toctrees leave empty wrappers; a visible one has entries.
    assert 'class="toctree-l1' not in body
    navigation = index[: index.index('<article role="main"')]
    for page in ("tutorial", "topics/websockets", "internals/seams", "references"):
        assert f'href="{page}.html"' in navigation, page


@needs_sphinx
def test_reference_documents_every_public_name(html: Path) -> None:
    reference = (html / "reference.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(pinws\.[\w.]+)"', reference))
    executors = importlib.import_module("pinws.executors")
    expected = {f"pinws.{name}" for name in pinws.__all__}
    expected |= {f"pinws.executors.{name}" for name in executors.__all__}
    assert expected - anchors == set()


@needs_sphinx
def test_reference_documents_no_private_name(html: Path) -> None:
    reference = (html / "reference.html").read_text(encoding="utf-8")
    anchors = re.findall(r'id="(pinws\.[\w.]+)"', reference)
    assert len(anchors) > len(pinws.__all__)
    # Private modules and names start with one underscore; dunders are fine.
    assert [a for a in anchors if re.search(r"\._(?!_)", a)] == []


@needs_sphinx
def test_doctests_pass(tmp_path: Path) -> None:
    elapsed, _ = sphinx_build("doctest", DOCS, tmp_path)
    assert elapsed < BUILD_SECONDS, f"the doctest build took {elapsed:.1f} s"
    report = (tmp_path / "output.txt").read_text(encoding="utf-8")
    # The examples really ran, on each page that has them.
    for page in ("tutorial", "reference", "topics/pinning", "howto-openssl"):
        assert f"Document: {page}\n" in report, report
    totals = re.search(r"(\d+) tests\s+(\d+) failures in tests", report)
    assert totals is not None, report
    assert int(totals.group(1)) >= 30
    assert totals.group(2) == "0"


@needs_sphinx
def test_docs_build_before_the_other_pages_land(tmp_path: Path) -> None:
    # The index and the reference link pages other people write; the build
    # must pass without them as it does with them.
    optional = optional_pages()
    source = tmp_path / "repo" / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build"))
    for included in ("CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md"):
        shutil.copy(ROOT / included, source.parent / included)
    for page in optional:
        for suffix in (".md", ".rst"):
            (source / f"{page}{suffix}").unlink(missing_ok=True)
    elapsed, _ = sphinx_build("html", source, tmp_path / "html")
    assert elapsed < BUILD_SECONDS
    assert (tmp_path / "html" / "tutorial.html").is_file()
