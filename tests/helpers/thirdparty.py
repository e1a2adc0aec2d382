"""nginx, tinyproxy, Dante and mitmproxy on loopback, configured by the test.

Each class writes its program's config under a directory of the test's
``tmp_path``, starts it on a free loopback port (see `ServerProcess`) and
exposes the files the program logs to, so a test can assert what the
third-party software saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import trustme

from .process import ServerProcess, require, wait_for_text
from .timing import WAIT

_NGINX_CONF = """\
daemon off;
worker_processes 1;
@USER@
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
events { worker_connections 64; }
http {
    log_format upgrade '"$request" $status upgrade=$http_upgrade';
    access_log @DIR@/access.log upgrade;
    client_body_temp_path @DIR@/client_body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    # The WebSocket proxying recipe of nginx's own documentation.
    map $http_upgrade $connection_upgrade { default upgrade; "" close; }
    server {
        listen 127.0.0.1:@PORT@ ssl;
        server_name localhost;
        ssl_certificate @DIR@/chain.pem;
        ssl_certificate_key @DIR@/key.pem;
        location / {
            proxy_pass http://127.0.0.1:@BACKEND@;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
        }
    }
}
"""


def _fill(template: str, **values: object) -> str:
    for name, value in values.items():
        template = template.replace(f"@{name}@", str(value))
    return template


class Nginx(ServerProcess):
    """nginx terminating ``wss://`` with *leaf*, proxying to ``ws://`` on
    127.0.0.1:*backend_port*."""

    def __init__(self, directory: Path, leaf: trustme.LeafCert, backend_port: int):
        binary = require("nginx", "nginx")
        directory.mkdir()
        leaf.private_key_pem.write_to_path(str(directory / "key.pem"))
        (directory / "chain.pem").write_bytes(
            b"".join(pem.bytes() for pem in leaf.cert_chain_pems)
        )
        self.access_log = directory / "access.log"
        self.error_log = directory / "error.log"
        # Run as root (CI), the master would hand the workers to "nobody",
        # who cannot enter the test's private tmp_path.
        user = "user root;" if os.geteuid() == 0 else ""

        def command(port: int) -> list[str]:
            config = _fill(
                _NGINX_CONF, DIR=directory, PORT=port, BACKEND=backend_port, USER=user
            )
            (directory / "nginx.conf").write_text(config)
            # -e: the error log from the first line on, not Debian's default
            # /var/log/nginx/error.log.
            return [
                binary,
                "-p",
                f"{directory}/",
                "-c",
                "nginx.conf",
                "-e",
                str(self.error_log),
            ]

        super().__init__("nginx", command, log=directory / "stdout.log", cwd=directory)

    def url(self, path: str = "/") -> str:
        return f"wss://localhost:{self.port}{path}"

    def requests(self) -> list[str]:
        """The access log: one line per HTTP request nginx received."""
        if not self.access_log.exists():
            return []
        return self.access_log.read_text().splitlines()


class Tinyproxy(ServerProcess):
    """tinyproxy, an HTTP proxy (CONNECT included), logging to its output."""

    def __init__(self, directory: Path) -> None:
        binary = require("tinyproxy", "tinyproxy")
        directory.mkdir()

        def command(port: int) -> list[str]:
            config = directory / "tinyproxy.conf"
            # No ConnectPort line: CONNECT is allowed to any port.
            config.write_text(
                f"Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 16\n"
                f"Allow 127.0.0.1\nLogLevel Connect\n"
                f'PidFile "{directory}/tinyproxy.pid"\n'
            )
            return [binary, "-d", "-c", str(config)]

        super().__init__(
            "tinyproxy", command, log=directory / "tinyproxy.log", cwd=directory
        )


class Dante(ServerProcess):
    """Dante's SOCKS5 server (``danted``), no authentication, CONNECT only."""

    def __init__(self, directory: Path) -> None:
        binary = require("danted", "dante-server")
        directory.mkdir()
        self.log_file = directory / "danted.log"

        def command(port: int) -> list[str]:
            config = directory / "danted.conf"
            config.write_text(
                f"logoutput: {self.log_file}\n"
                f"internal: 127.0.0.1 port = {port}\n"
                "external: 127.0.0.1\n"
                "clientmethod: none\n"
                "socksmethod: none\n"
                "client pass {\n"
                "    from: 127.0.0.0/8 to: 0.0.0.0/0\n"
                "    log: connect disconnect error\n"
                "}\n"
                "socks pass {\n"
                "    from: 127.0.0.0/8 to: 0.0.0.0/0\n"
                "    command: connect\n"
                "    log: connect disconnect error\n"
                "}\n"
            )
            # -N 1: one process, in the foreground.
            return [
                binary,
                "-f",
                str(config),
                "-p",
                f"{directory}/danted.pid",
                "-N",
                "1",
            ]

        super().__init__("danted", command, log=directory / "stdout.log", cwd=directory)


#: The mitmdump addon that records what the interceptor saw.
_RECORDER = Path(__file__).with_name("mitm_recorder.py")


class Mitmdump(ServerProcess):
    """mitmproxy's ``mitmdump``: an interceptor with a fresh CA of its own.

    Args:
        directory: its confdir (where it generates its CA) and record file.
        mode: ``"regular"`` (an HTTP proxy) or ``"reverse:https://host:port"``.
        upstream_ca: the CA file it verifies real servers with.
    """

    def __init__(
        self, directory: Path, *, upstream_ca: str, mode: str = "regular"
    ) -> None:
        binary = require("mitmdump", "mitmproxy")
        directory.mkdir()
        self.record = directory / "record.jsonl"
        self.ca_file = str(directory / "mitmproxy-ca-cert.pem")

        def command(port: int) -> list[str]:
            return [
                binary,
                "--listen-host", "127.0.0.1",
                "--listen-port", str(port),
                "--mode", mode,
                "--set", f"confdir={directory}",
                "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}",
                "--scripts", str(_RECORDER),
                "--set", f"pinws_record={self.record}",
                "--set", "flow_detail=3",
            ]  # fmt: skip

        # Unbuffered, so its log shows a flow as soon as it has seen it.
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        super().__init__(
            "mitmdump", command, log=directory / "mitmdump.log", cwd=directory, env=env
        )

    def events(self) -> list[dict[str, Any]]:
        """What the recorder addon wrote, one dict per hook call."""
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def wait_for_event(
        self, name: str, timeout: float = WAIT
    ) -> Optional[dict[str, Any]]:
        """Wait for the first recorded event called *name*."""
        if not wait_for_text(self.record, f'"event": "{name}"', timeout=timeout):
            return None
        return next(event for event in self.events() if event["event"] == name)
