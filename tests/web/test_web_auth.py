"""Dashboard access: password login, session cookies (HttpOnly, Lax, hashed at rest, expiring,
revocable), CSRF on every post, the API accepting the cookie, and secrets never shown or logged."""

from __future__ import annotations

import logging
import sqlite3
import time

from tirta.api.auth import SESSION_COOKIE, csrf_for, token_digest

from .conftest import PASSWORD, csrf_of


def test_login_sets_a_safe_cookie_and_logout_revokes_it(web):
    page = web.client.get("/login")
    assert page.status_code == 200 and 'type="password"' in page.text
    r = web.client.post(
        "/login",
        data={
            "username": "viewer-1",
            "password": PASSWORD,
            "csrf": csrf_of(page.text),
            "next": "/events",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/events"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    token = web.client.cookies[SESSION_COOKIE]
    with sqlite3.connect(web.settings.users_db) as con:
        stored = [row[0] for row in con.execute("SELECT token_hash FROM sessions")]
    assert stored == [token_digest(token)] and token not in stored  # only the hash is kept
    home = web.client.get("/")
    assert home.status_code == 200 and "viewer-1" in home.text
    out = web.client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # the old token is dead server-side even if a client kept it
    web.client.cookies.set(SESSION_COOKIE, token)
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_wrong_password_unknown_user_and_deactivated_user(web):
    page = web.client.get("/login")
    for name, password in [("viewer-1", "wrong password!"), ("nobody", PASSWORD)]:
        r = web.client.post(
            "/login", data={"username": name, "password": password, "csrf": csrf_of(page.text)}
        )
        assert r.status_code == 401 and "Wrong user name or password" in r.text
        assert SESSION_COOKIE not in web.client.cookies
        page = r  # the form comes back with a fresh token
    web.login("viewer")
    assert web.client.get("/", follow_redirects=False).status_code == 200
    web.client.app.state.tirta.users.deactivate("viewer-1")
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_login_needs_its_csrf_token(web):
    web.client.get("/login")
    r = web.client.post("/login", data={"username": "viewer-1", "password": PASSWORD})
    assert r.status_code == 403
    r = web.client.post("/login", data={"username": "viewer-1", "password": PASSWORD, "csrf": "x" * 32})
    assert r.status_code == 403
    assert SESSION_COOKIE not in web.client.cookies


def test_sessions_expire(make_web):
    with make_web(session_ttl_s=1.0) as w:
        w.login("viewer")
        assert w.client.get("/", follow_redirects=False).status_code == 200
        time.sleep(1.3)
        r = w.client.get("/sensors", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/sensors"
        assert w.client.get("/api/v1/events").status_code == 401


def test_form_posts_without_or_with_a_wrong_csrf_token_are_refused(web):
    web.login("operator")
    url = f"/events/{web.event_id}/action"
    assert web.client.post(url, data={"action": "acknowledge"}).status_code == 403
    bad = web.client.post(url, data={"action": "acknowledge", "csrf": "0" * 64})
    assert bad.status_code == 403
    assert web.client.post("/logout", data={}).status_code == 403
    detail = web.client.get(f"/api/v1/events/{web.event_id}").json()
    assert detail["status"] == "open" and len(detail["history"]) == 1


def test_the_api_takes_the_session_cookie_with_a_csrf_header_for_posts(web):
    assert web.client.get("/api/v1/events").status_code == 401
    web.login("operator")
    assert web.client.get("/api/v1/events").json()["total"] == 1
    url = f"/api/v1/events/{web.event_id}/acknowledge"
    no_header = web.client.post(url, json={"note": "seen"})
    assert no_header.status_code == 403 and no_header.json()["error"]["type"] == "forbidden"
    wrong = web.client.post(url, json={"note": "seen"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    token = web.client.cookies[SESSION_COOKIE]
    ok = web.client.post(url, json={"note": "seen"}, headers={"X-CSRF-Token": csrf_for(token)})
    assert ok.status_code == 200 and ok.json()["status"] == "acknowledged"
    assert ok.json()["history"][-1]["who"] == "operator-1"
    # API keys work as before, beside the cookie
    keyed = web.client.get("/api/v1/events", headers={"Authorization": f"Bearer {web.keys['viewer']}"})
    assert keyed.status_code == 200


def test_secrets_never_in_responses_or_logs(web, caplog):
    caplog.set_level(logging.DEBUG)
    web.login("operator")
    token = web.client.cookies[SESSION_COOKIE]
    csrf = csrf_for(token)
    bodies = []
    for path in [
        "/",
        "/map",
        "/sensors",
        "/events",
        f"/events/{web.event_id}",
        "/balance",
        "/public",
        "/api/v1/dashboard/overview",
        "/api/v1/network/map",
        "/api/v1/events",
    ]:
        r = web.client.get(path)
        assert r.status_code == 200, path
        bodies.append(r.text + str(r.headers))
    html = web.client.get("/").text
    page = web.client.get("/login")
    wrong = web.client.post(
        "/login", data={"username": "operator-1", "password": PASSWORD + "x", "csrf": csrf_of(page.text)}
    )
    bodies.append(wrong.text + str(wrong.headers))
    everything = "\n".join(bodies)
    assert PASSWORD not in everything and token not in everything
    for key in web.keys.values():
        assert key not in everything
    # the CSRF token appears only in the hidden field and its meta tag of a logged-in page
    assert html.count(csrf) == 2
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for secret in [PASSWORD, token, csrf, *web.keys.values()]:
        assert secret not in logs
    assert "login failed for 'operator-1'" in caplog.text  # the log is there, without the secret


def test_security_headers_and_idempotent_install(web):
    from tirta.web import install_web

    routes = len(web.client.app.router.routes)
    install_web(web.client.app)
    assert len(web.client.app.router.routes) == routes
    r = web.client.get("/login")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    docs = web.client.get("/api/v1/docs")  # Swagger UI loads from a CDN: no CSP there
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers


def test_cli_sets_a_password_that_logs_in(tmp_path):
    """``tirta users add`` then ``tirta users password`` (asked twice, not echoed), as a real process."""
    import subprocess
    import sys

    from tirta.api import UserStore

    db = tmp_path / "users.sqlite"

    def tirta(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tirta", "users", *args, "--users-db", str(db)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={
                "PATH": "/usr/bin:/bin",
                "NO_COLOR": "1",
                "TIRTA_STORE_URL": str(tmp_path / "s.duckdb"),
            },
        )

    assert tirta("add", "ana", "--role", "operator").returncode == 0
    short = tirta("password", "ana", stdin="short\nshort\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    ok = tirta("password", "ana", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert ok.returncode == 0, ok.stderr
    assert PASSWORD not in ok.stdout + ok.stderr
    users = UserStore(db)
    assert users.check_password("ana", PASSWORD).role == "operator"
    assert users.check_password("ana", "something else") is None
