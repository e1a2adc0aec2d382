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


def recipe_from_the_guide(start: str) -> str:
    """A pipeline of the guide, read from it so that the two cannot drift."""
    text = (ROOT / "docs" / "howto-openssl.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("$ " + start)]
    assert len(lines) == 1, lines
    return lines[0][2:]


def run_pipeline(command: str, cwd: Path) -> str:
    result = subprocess.run(
        command,
        shell=True,  # the guide's pipeline, as a reader would paste it
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("start", "file_name"),
    [
        ("openssl x509 -in cert.pem", "cert.pem"),
        ("openssl pkey -in backup-key.pem", "backup-key.pem"),
    ],
)
def test_the_recipe_prints_the_base64_that_sha256_prefixes(
    tmp_path: Path, start: str, file_name: str
) -> None:
    leaf = trustme.CA().issue_cert("example.test")
    (tmp_path / "cert.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "backup-key.pem").write_bytes(leaf.private_key_pem.bytes())
    expected = pinws.spki_pin(leaf.cert_chain_pems[0].bytes())

    digest = run_pipeline(recipe_from_the_guide(start), tmp_path)

    assert (tmp_path / file_name).is_file()
    assert "sha256/" + digest == expected
    with pytest.raises(pinws.InvalidPinError, match="add sha256/"):
        pinws.Pin.parse(digest)
    assert str(pinws.Pin.parse("sha256/" + digest)) == expected
