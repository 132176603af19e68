"""Delivering one notification: e-mail over SMTP (STARTTLS or TLS, with login) or a signed webhook.

A webhook body is the alert as JSON; ``X-Tirta-Signature: sha256=<hex>`` is the HMAC-SHA256 of
``<timestamp>.<body>`` with the channel's secret and ``X-Tirta-Timestamp`` its Unix time, so a
receiver can check origin and freshness (the scheme of Stripe's and GitHub's webhooks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import httpx

from tirta.alerts.config import Channel
from tirta.alerts.rules import Alert

__all__ = ["DeliveryError", "send", "sign", "verify"]


class DeliveryError(Exception):
    """A channel did not take the notification (the dispatcher retries, then dead-letters it)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value of a webhook body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300.0
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    fresh = abs(time.time() - float(timestamp)) <= max_age_s
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _ssl_context(channel: Channel) -> ssl.SSLContext:
    ca = channel.options.get("ca_file")
    return ssl.create_default_context(cafile=str(ca)) if ca else ssl.create_default_context()


def _smtp(channel: Channel, alert: Alert, to: tuple[str, ...]) -> None:
    opts = channel.options
    mode = opts.get("tls", "starttls")
    port = int(opts.get("port", 465 if mode == "ssl" else 587))
    timeout = float(opts.get("timeout_s", 20))
    msg = EmailMessage()
    msg["From"] = str(opts["from"])
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"[tirta] {alert.title}"
    msg["X-Tirta-Alert"] = alert.key
    msg.set_content(alert.text())
    try:
        if mode == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                opts["host"], port, timeout=timeout, context=_ssl_context(channel)
            )
        else:
            server = smtplib.SMTP(opts["host"], port, timeout=timeout)
        with server:
            if mode == "starttls":
                server.starttls(context=_ssl_context(channel))
            user = opts.get("username")
            if user:
                server.login(str(user), channel.secret("password_env") or "")
            server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp {opts['host']}:{port}: {exc}") from None


def _webhook(channel: Channel, alert: Alert) -> None:
    opts = channel.options
    body = json.dumps(alert.payload(), sort_keys=True).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Tirta-Timestamp": stamp,
        "X-Tirta-Alert": alert.key,
    }
    secret = channel.secret("secret_env")
    if secret:
        headers["X-Tirta-Signature"] = sign(secret, stamp, body)
    verify_tls: Any = _ssl_context(channel) if opts.get("ca_file") else True
    try:
        r = httpx.post(
            str(opts["url"]),
            content=body,
            headers=headers,
            timeout=float(opts.get("timeout_s", 10)),
            verify=verify_tls,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {opts['url']}: {exc}") from None
    if r.status_code >= 300:
        raise DeliveryError(f"webhook {opts['url']}: HTTP {r.status_code}")


def send(channel: Channel, alert: Alert, to: tuple[str, ...] = ()) -> None:
    """Deliver ``alert`` through ``channel`` once; :class:`DeliveryError` when it was not taken."""
    if channel.type == "smtp":
        _smtp(channel, alert, to)
    else:
        _webhook(channel, alert)
