"""Real delivery peers on loopback: an SMTP server (aiosmtpd, STARTTLS with a self-signed certificate,
login required) and an HTTP webhook receiver that checks signatures and can be told to fail or hang."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services import free_port
from tirta.alerts.channels import verify

SMTP_USER, SMTP_PASSWORD = "tirta", "smtp-test-password"  # test-only credentials
WEBHOOK_SECRET = "webhook-test-secret"


@dataclass
class SmtpServer:
    port: int
    cert: Path
    messages: list[Message] = field(default_factory=list)


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate: apt-get install openssl")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server(tls_cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = SmtpServer(free_port(), tls_cert[0])

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
            server.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            return "250 OK"

    def authenticator(
        _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == SMTP_USER.encode()
            and data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=server.port, tls_context=ctx, require_starttls=True,
        authenticator=authenticator, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    yield server
    controller.stop()


@dataclass
class Receiver:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    fail_next: int = 0  # answer 500 to this many requests
    hang_s: float = 0.0
    requests: int = 0


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    port = free_port()
    rec = Receiver(f"http://127.0.0.1:{port}/hook")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                rec.requests += 1
                failing = rec.fail_next > 0
                rec.fail_next -= 1 if failing else 0
            if rec.hang_s:
                time.sleep(rec.hang_s)
            ok = verify(
                WEBHOOK_SECRET,
                self.headers["X-Tirta-Timestamp"],
                body,
                self.headers.get("X-Tirta-Signature", ""),
            )
            if not ok:
                rec.bad_signatures += 1
            if failing or not ok:
                self.send_response(500 if failing else 401)
                self.end_headers()
                return
            rec.bodies.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rec
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The channels' secrets, by the environment variable names the test alerts file gives."""
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
