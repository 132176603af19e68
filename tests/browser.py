"""Real headless Chromium for the web tests: the Debian ``chromium`` driven by Playwright."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services import install_hint

CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> Any:
    """``playwright.sync_api`` once the system Chromium is there; else pytest.fail with the fix."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("playwright is not installed: run `.venv/bin/pip install -e '.[dev]'`")
    if not CHROMIUM.is_file():
        pytest.fail(install_hint("Chromium (/usr/bin/chromium)", "chromium"))
    return sync_api


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless system Chromium; a machine without it fails with the command to run, never skips."""
    sync_api = require_chromium()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def wait_js(page: Any, expression: str, timeout_s: float = 60.0) -> None:
    """Poll a JS expression with page.evaluate (not subject to the page's CSP, unlike
    wait_for_function, which evaluates a string inside the page) until it is truthy. Write the
    expression null-safe (``?.``): while a reload parses, the elements are not there yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if page.evaluate(expression):
                return
        except Exception as exc:  # the page is being replaced (a reload after an action): try again
            if "context was destroyed" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)


LIFECYCLE = [
    ("acknowledge", "acknowledged"),
    ("dispatch", "dispatched"),
    ("repair", "repaired"),
    ("close", "closed"),
]


def take_event_to_closed(
    page: Any, note: str, before_click: Callable[[str], None] | None = None, timeout_s: float = 30.0
) -> None:
    """On an event's page, press each lifecycle button in turn (note: ``note`` formatted with the
    action) and wait for the status to show; a failure quotes the page's action error."""
    for action, status in LIFECYCLE:
        page.fill(f"form[data-action='{action}'] input[name=note]", note.format(action=action))
        if before_click is not None:
            before_click(action)
        page.click(f"#btn-{action}")
        try:
            wait_js(page, f"document.getElementById('status')?.textContent === '{status}'", timeout_s)
        except AssertionError:
            shown = page.evaluate("document.getElementById('action-error')?.textContent")
            raise AssertionError(f"{action}: the page says {shown!r}") from None


PASSWORD = "correct horse battery staple"  # the test users' password (tests/web/conftest.py)


def login(
    browser: Any,
    base: str,
    user: str,
    *,
    next_path: str = "/",
    password: str = PASSWORD,
    viewport: dict[str, int] | None = None,
    errors: list[str] | None = None,
    responses: bool = True,
) -> Any:
    """A new page logged in as ``user`` at ``base``, on ``next_path``; with ``errors`` given, the page's
    script errors, console errors and (``responses``) HTTP responses >= 400 are appended to it."""
    page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        if responses:
            page.on(
                "response",
                lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
    log_in(page, base, user, next_path=next_path, password=password)
    return page


def log_in(page: Any, base: str, user: str, *, next_path: str = "/", password: str = PASSWORD) -> None:
    """Log ``page`` in as ``user`` through the login form and wait until it shows ``next_path``."""
    query = f"?next={next_path}" if next_path != "/" else ""
    page.goto(f"{base}/login{query}")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + next_path, timeout=120_000)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """uvicorn serving ``app`` on a free loopback port in a thread; yields its base URL."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
