"""The openssl command-line recipe of docs/howto-openssl.md gives pinws's pins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import trustme

import pinws

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command is not installed"
)


def recipe_from_the_guide() -> str:
    """The certificate-file pipeline, read from the how-to so they cannot drift."""
    text = (ROOT / "docs" / "howto-openssl.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("$ openssl x509 ")]
    assert len(lines) == 1, lines
    return lines[0][2:]


def test_the_recipe_prints_the_base64_that_sha256_prefixes(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("example.test")
    cert = tmp_path / "cert.pem"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    command = recipe_from_the_guide()
    result = subprocess.run(
        command,
        shell=True,  # the guide's pipeline, as a reader would paste it
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    digest = result.stdout.strip()
    expected = pinws.spki_pin(cert.read_bytes())
    assert "sha256/" + digest == expected
    with pytest.raises(pinws.InvalidPinError, match="add sha256/"):
        pinws.Pin.parse(digest)
    assert str(pinws.Pin.parse("sha256/" + digest)) == expected
