"""Lean installs: what needs an extra says which one, and the core needs none.

``pip install pinws`` brings only what a client needs; ``pinws demo``
(trustme, websockets) and Android configs (defusedxml) come with extras, and
each says exactly what to install when its extra is missing.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from helpers.cli import cli_env

ROOT = Path(__file__).resolve().parent.parent


def run_without(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    # A None in sys.modules makes the import fail as if it were not installed.
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in modules)
    return subprocess.run(
        [sys.executable, "-c", f"import sys; {blocked}; {code}"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_library_imports_without_any_extra() -> None:
    result = run_without(
        ["trustme", "websockets", "defusedxml", "python_socks"],
        "import pinws; print(sorted(m for m, mod in sys.modules.items() "
        "if mod is not None "
        "and m.split('.')[0] in ('trustme', 'websockets', 'defusedxml')))",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_pinws_demo_without_the_demo_extra_says_what_to_install() -> None:
    result = run_without(
        ["trustme"],
        "from pinws._cli.main import main; sys.exit(main(['demo']))",
    )
    assert result.returncode == 3
    assert "pip install 'pinws[demo]'" in result.stderr
    assert "trustme" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_android_config_without_defusedxml_says_what_to_install(
    tmp_path: Path,
) -> None:
    config = tmp_path / "network_security_config.xml"
    config.write_text("<network-security-config/>")
    result = run_without(
        ["defusedxml"],
        f"import pinws; pinws.PinPolicy.from_android_nsc({str(config)!r})",
    )
    assert result.returncode == 1
    assert "pip install 'pinws[android]'" in result.stderr


def test_install_requires_names_no_demo_or_test_dependency() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    required = setup["options"]["install_requires"].lower()
    for name in ("trustme", "websockets", "defusedxml", "pytest", "sphinx"):
        assert name not in required, name
