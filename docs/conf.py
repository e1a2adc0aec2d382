"""Sphinx configuration for the pinws documentation.

Build with warnings as errors and nitpicky references, as CI does::

    python -m sphinx -n -W --keep-going -b html docs docs/_build/html
    python -m sphinx -n -W --keep-going -b doctest docs docs/_build/doctest

Nothing here fetches from the network: there is no remote intersphinx, so
names from other projects are listed in ``nitpick_ignore_regex`` instead and
``-n`` keeps checking every reference to pinws's own API.

External links are listed once, on the references page, and
``tests/test_doc_links.py`` checks that offline. To check that they still
resolve, with network access, run by hand::

    python -m sphinx -b linkcheck docs docs/_build/linkcheck
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.directives.other import TocTree
from sphinx.util import docname_join
from sphinx.util.docutils import SphinxDirective
from sphinx.util.matching import patfilter

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document the source tree next to these docs, not whatever pinws happens to
# be installed.
if (ROOT / "pinws" / "__init__.py").is_file():
    sys.path.insert(0, str(ROOT))

import pinws  # noqa: E402

project = "pinws"
author = "The pinws maintainers"
copyright = "The pinws maintainers"
release = pinws.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.napoleon",
    # Sequence diagrams: the build only copies their source into the page;
    # the browser renders them with mermaid's JavaScript (from a CDN) at
    # view time, so building needs no network.
    "sphinxcontrib.mermaid",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
language = "en"

# -- Pages other people write -------------------------------------------------
#
# These pages are linked from the toctrees and from docstrings. The build has
# to pass before each of them lands, so a missing one is tolerated: the index
# lists them in ``optional-toctree`` directives (below), which drop entries
# that match no page, and references to a missing page are not reported.
OPTIONAL_PAGES = (
    "cli",
    "gui",
    "howto-get-pins",
    "key-rotation",
    "performance",
    "policy",
)
MISSING_PAGES = tuple(
    page
    for page in OPTIONAL_PAGES
    if not any((DOCS / f"{page}{suffix}").is_file() for suffix in source_suffix)
)

# -- References ----------------------------------------------------------------

nitpicky = True
nitpick_ignore: list[tuple[str, str]] = []
# Links to a page that has not landed yet: {doc}`policy`, {doc}`/policy`,
# {doc}`../policy` and Markdown links such as [the policy](policy.md#files).
MISSING_PAGE_LINKS = [
    (r"(std:)?doc|myst", rf"(\.\./|/)?{re.escape(page)}(\.md)?(#.*)?")
    for page in MISSING_PAGES
]

# pinws documents its own names; everything below belongs to other projects
# (or the standard library), whose inventories cannot be fetched offline.
nitpick_ignore_regex = [
    *MISSING_PAGE_LINKS,
    (r"py:.*", r"(websocket|OpenSSL|cryptography|ssl|socket|os|datetime)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|threading|json|pathlib)(\..*)?"),
    (r"py:.*", r"(sys|queue|tkinter|asyncio|concurrent|types)(\..*)?"),
    (r"py:.*", r"(PySide6|PySide2|PyQt6|PyQt5|service_identity|certifi)(\..*)?"),
    (r"py:.*", r"(Callable|Iterable|Mapping|Sequence|Any|Optional|Union)"),
    (r"py:.*", r"(PublicKeyTypes|x509\.Certificate|x509)"),
    (r"py:class", r"(bytes|bytearray|memoryview|str|int|float|bool|object|type)"),
    (r"py:class", r"(dict|list|tuple|NoneType|None)"),
    (r"py:(exc|class)", r"(ValueError|OSError|RuntimeError|TypeError)"),
    (r"py:(exc|class)", r"(ConnectionResetError|Exception|BaseException)"),
    # PinnedSocket's constructor parameters: pinws builds it, users never do.
    (r"py:class", r"SSL\.Connection|Wakeup"),
    # The type variable of PinnedSocket.take: a parser's own result type.
    (r"py:class", r"pinws\._transport\.socket\.T"),
]
if importlib.util.find_spec("pinws.executors") is None:
    nitpick_ignore.append(("py:mod", "pinws.executors"))

# -- autodoc / napoleon ----------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False

napoleon_google_docstring = True
napoleon_numpy_docstring = False
# ":ivar:" fields, not ".. attribute::" entries: dataclass fields documented
# by autodoc would otherwise be described twice.
napoleon_use_ivar = True
napoleon_use_rtype = False

# -- MyST --------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3
# ```mermaid fences render as diagrams, as on GitHub.
myst_fence_as_directive = ["mermaid"]

# -- linkcheck (run by hand; the test suite has no network) ---------------------

linkcheck_timeout = 15
linkcheck_anchors = False  # many vendors build their pages with JavaScript

# -- doctest ----------------------------------------------------------------------

doctest_global_setup = """
import pinws
"""
doctest_test_doctest_blocks = "default"

# -- HTML --------------------------------------------------------------------------

html_theme = "furo"
html_title = f"pinws {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": True,
}
pygments_style = "sphinx"
pygments_dark_style = "monokai"


# -- Local extension -----------------------------------------------------------------


class OptionalAutomodule(SphinxDirective):
    """``automodule`` for a module that may not exist yet (``pinws.executors``).

    Documents the module as ``automodule`` with the same options does when it
    can be imported, and produces nothing when it cannot, so the reference
    page does not have to change the day the module lands. Use it from reST
    (an ``eval-rst`` block in Markdown).
    """

    has_content = False
    required_arguments = 1
    option_spec: ClassVar[dict[str, Any]] = {"members": directives.unchanged}

    def run(self) -> list[Any]:
        module = self.arguments[0]
        if importlib.util.find_spec(module) is None:
            return []
        lines = [f".. automodule:: {module}"]
        lines += [
            f"   :{name}: {value or ''}".rstrip()
            for name, value in self.options.items()
        ]
        container = nodes.section()
        container.document = self.state.document
        source = self.get_source_info()[0]
        self.state.nested_parse(
            StringList(lines, source=source), self.content_offset, container
        )
        return list(container.children)


# Private names that appear in signatures and docstrings, and the section of
# the reference that explains what they stand for.
PRIVATE_NAME_LABELS = {
    "PinsArgument": "pins-argument",
    "PinsInput": "pins-argument",
    "PathArgument": "path-argument",
    "CertificateInput": "certificate-argument",
    "HostPattern": "host-patterns",
    "CallbackExecutor": "callback-executors",
}


class OptionalTocTree(TocTree):
    """A ``toctree`` whose entries may name pages that do not exist yet.

    Entries (names, or glob patterns with ``:glob:``) that match no page are
    left out instead of being reported, so the index can list pages other
    people are still writing. Use ``toctree`` for pages that must exist.
    """

    def run(self) -> list[Any]:
        found = self.env.found_docs
        glob = "glob" in self.options
        kept = []
        for offset, entry in enumerate(self.content):
            name = entry.strip()
            if name and not self._exists(name, found, glob):
                continue
            kept.append((entry, offset))
        self.content = StringList(
            [entry for entry, _ in kept],
            items=[self.content.items[offset] for _, offset in kept],
        )
        return super().run()

    def _exists(self, name: str, found: Any, glob: bool) -> bool:
        docname = docname_join(self.env.docname, name)
        if glob and any(char in name for char in "*?["):
            return any(True for _ in patfilter(found, docname))
        return docname in found


def _resolve_private_names(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve references to private names to what users can read about.

    Type hints name a class by the private module that defines it
    (``pinws._pins.pinset.PinSet``); the reference documents it as
    ``pinws.PinSet``. Private type aliases (``PinsArgument``) and helper
    classes point at the reference section describing what they accept.
    Anything else stays unresolved, and ``-n`` reports it.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    name = target.rsplit(".", 1)[-1]
    if target.startswith("pinws._") and name in pinws.__all__:
        return env.get_domain("py").resolve_xref(
            env,
            node["refdoc"],
            app.builder,
            node["reftype"],
            f"pinws.{name}",
            node,
            contnode,
        )
    if name in PRIVATE_NAME_LABELS and (target == name or target.startswith("pinws._")):
        return env.get_domain("std").resolve_xref(
            env,
            node["refdoc"],
            app.builder,
            "ref",
            PRIVATE_NAME_LABELS[name],
            node,
            contnode,
        )
    return None


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("optional-automodule", OptionalAutomodule)
    app.add_directive("optional-toctree", OptionalTocTree)
    app.connect("missing-reference", _resolve_private_names)
    return {"parallel_read_safe": True}
