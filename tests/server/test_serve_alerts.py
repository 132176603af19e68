"""``tirta serve`` with TIRTA_ALERTS_FILE: a leak event in the store reaches a signed webhook by itself,
the alerts job shows in the status, and the notification is recorded as sent in the store."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from alert_peers import WEBHOOK_SECRET, Receiver, webhook  # noqa: F401  (fixture)
from tirta.alerts import notifications
from tirta.api.users import UserStore
from tirta.leaks.events import open_event
from tirta.telemetry.store import open_store

pytestmark = pytest.mark.service


def test_serve_sends_a_leak_alert_by_itself(tmp_path, launch, port, http_ok, webhook: Receiver) -> None:  # noqa: F811
    url = f"duckdb:///{tmp_path / 'serve.duckdb'}"
    now = pd.Timestamp.now(tz="UTC").floor("s")
    with open_store(url) as store:
        open_event(
            store,
            detected_at=now,
            start=now,
            size_lps=4.0,
            candidates=[{"pipe": "p1", "score": 1.0}],
            dma="A",
        )
    users = tmp_path / "users.sqlite"
    key = UserStore(users).add_user("watcher", "viewer")
    alerts = tmp_path / "alerts.toml"
    alerts.write_text(
        f'[channels.hook]\ntype = "webhook"\nurl = "{webhook.url}"\nsecret_env = "HOOK_SECRET"\n\n'
        '[[subscriptions]]\nname = "scada"\nrole = "control-room"\nchannel = "hook"\nrules = ["leak.opened"]\n',
        encoding="utf-8",
    )
    proc = launch(
        "serve", "--store", url, "--users-db", str(users), "--port", port,
        env={"TIRTA_ALERTS_FILE": str(alerts), "HOOK_SECRET": WEBHOOK_SECRET},
    )  # fmt: skip
    status = http_ok(
        f"http://127.0.0.1:{port}/api/v1/status", {"Authorization": f"Bearer {key}"}, proc
    ).json()
    assert "alerts" in status["jobs"]
    deadline = time.monotonic() + 60
    while not webhook.bodies and time.monotonic() < deadline:
        time.sleep(0.2)
    assert webhook.bodies and webhook.bodies[0]["rule"] == "leak.opened", proc.output
    assert webhook.bad_signatures == 0
    assert proc.interrupt() == 0, proc.output
    with open_store(url) as store:
        [sent] = notifications(store)
    assert sent["status"] == "sent" and sent["subscription"] == "scada"
