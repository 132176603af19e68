"""The alert tests' peers (tests/alert_peers.py): a real SMTP server and a webhook receiver."""

from alert_peers import secrets, smtp_server, tls_cert, webhook  # noqa: F401
