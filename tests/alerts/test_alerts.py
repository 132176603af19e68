"""Alerts reach people: a new leak event becomes an e-mail (STARTTLS, login) and a signed webhook,
once; a failing webhook is retried with backoff then dead-lettered without holding up the e-mail;
quiet hours hold warnings until they end; every notification is recorded with its status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from alert_peers import Receiver, SmtpServer
from tirta.alerts import Dispatcher, collect, load_alerts, notifications
from tirta.cli import main
from tirta.errors import InputError
from tirta.leaks.events import open_event
from tirta.network.sensors import make_sensor
from tirta.telemetry.store import open_store

T_EVENT = pd.Timestamp("2024-05-01T06:00Z")


def alerts_toml(
    tmp: Path, smtp: object, hook: object, *, quiet: str | None = None, retries: int = 3
) -> Path:
    path = tmp / "alerts.toml"
    quiet_line = f'quiet_hours = "{quiet}"\nurgent_in_quiet = true\n' if quiet else ""
    path.write_text(
        f"""
[channels.mail]
type = "smtp"
host = "127.0.0.1"
port = {smtp.port}
tls = "starttls"
username = "tirta"
password_env = "TEST_SMTP_PASSWORD"
from = "tirta@utility.example"
ca_file = "{smtp.cert}"

[channels.hook]
type = "webhook"
url = "{hook.url}"
secret_env = "TEST_WEBHOOK_SECRET"
retries = {retries}
backoff_s = 0.05

[[subscriptions]]
name = "duty-operator"
role = "operator"
channel = "mail"
to = ["duty@utility.example"]
rules = ["leak.opened", "leak.unacknowledged"]
{quiet_line}
[[subscriptions]]
name = "scada"
role = "control-room"
channel = "hook"
rules = ["leak.opened", "sensor.silent"]

[thresholds]
unacknowledged_min = 30
silent_min = 60
""",
        encoding="utf-8",
    )
    return path


def leak_store(tmp: Path) -> str:
    url = f"duckdb:///{tmp / 'store.duckdb'}"
    with open_store(url) as store:
        open_event(
            store, detected_at=T_EVENT, start=T_EVENT - pd.Timedelta(hours=2), size_lps=2.5,
            candidates=[{"pipe": "p257", "score": 1.0}], dma="A", radius_m=120.0,
        )  # fmt: skip
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err


pytestmark = pytest.mark.service


def test_leak_event_reaches_email_and_webhook_once(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook: Receiver,
    secrets: None,
) -> None:
    url = leak_store(tmp_path)
    cfg = alerts_toml(tmp_path, smtp_server, webhook)
    now = (T_EVENT + pd.Timedelta(minutes=10)).isoformat()
    code, out, err = run(capsys, "alerts", "check", str(cfg), "--store", url, "--now", now, "--json")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["new"] == 2 and summary["delivered_all"]
    assert {n["status"] for n in summary["notifications"]} == {"sent"}
    [mail] = smtp_server.messages
    assert mail["To"] == "duty@utility.example" and "Leak 1 near p257 (2.5 L/s)" in mail["Subject"]
    assert "dma: A" in mail.get_payload()
    [body] = webhook.bodies
    assert (
        body["rule"] == "leak.opened"
        and body["details"]["pipe"] == "p257"
        and webhook.bad_signatures == 0
    )
    # the same rules again: nothing new is sent
    code, out, _ = run(capsys, "alerts", "check", str(cfg), "--store", url, "--now", now, "--json")
    assert (
        json.loads(out.strip().splitlines()[-1])["new"] == 0
        and len(smtp_server.messages) == 1
        and len(webhook.bodies) == 1
    )
    # 40 minutes on, still open: the operator is told it is unacknowledged (the webhook is not subscribed)
    later = (T_EVENT + pd.Timedelta(minutes=40)).isoformat()
    code, out, _ = run(capsys, "alerts", "check", str(cfg), "--store", url, "--now", later, "--json")
    assert (
        json.loads(out.strip().splitlines()[-1])["new"] == 1
        and "unacknowledged for 40 min" in smtp_server.messages[-1]["Subject"]
    )


def test_failing_webhook_retried_then_dead_without_holding_up_email(
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook: Receiver,
    secrets: None,
) -> None:
    url = leak_store(tmp_path)
    cfg = load_alerts(alerts_toml(tmp_path, smtp_server, webhook, retries=3))
    webhook.fail_next = 10**6
    now = T_EVENT + pd.Timedelta(minutes=5)
    with open_store(url) as store:
        d = Dispatcher(store, cfg)
        d.submit(collect(store, now, cfg.thresholds), now)
        assert d.wait(60)
        d.close()
        by_channel = {n["channel"]: n for n in notifications(store)}
        assert by_channel["mail"]["status"] == "sent"
        dead = notifications(store, "dead")
    assert webhook.requests == 3
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and "HTTP 500" in dead[0]["error"]
    assert len(smtp_server.messages) == 1


def test_retry_succeeds_after_transient_failures(
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook: Receiver,
    secrets: None,
) -> None:
    url = leak_store(tmp_path)
    cfg = load_alerts(alerts_toml(tmp_path, smtp_server, webhook, retries=4))
    webhook.fail_next = 2
    now = T_EVENT + pd.Timedelta(minutes=5)
    with open_store(url) as store:
        d = Dispatcher(store, cfg)
        d.submit(collect(store, now, cfg.thresholds), now)
        assert d.wait(60)
        d.close()
        hook = next(n for n in notifications(store) if n["channel"] == "hook")
    assert hook["status"] == "sent" and hook["attempts"] == 3 and len(webhook.bodies) == 1


def test_a_hanging_channel_does_not_block_the_caller(
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook: Receiver,
    secrets: None,
) -> None:
    url = leak_store(tmp_path)
    cfg = load_alerts(alerts_toml(tmp_path, smtp_server, webhook))
    webhook.hang_s = 3.0
    now = T_EVENT + pd.Timedelta(minutes=5)
    with open_store(url) as store:
        d = Dispatcher(store, cfg)
        t0 = time.monotonic()
        d.submit(collect(store, now, cfg.thresholds), now)
        assert time.monotonic() - t0 < 1.0  # detection's tick returns at once
        assert d.wait(60)
        d.close()


def test_quiet_hours_hold_warnings_and_let_leaks_through(
    tmp_path: Path,
    smtp_server: SmtpServer,
    webhook: Receiver,
    secrets: None,
) -> None:
    url = leak_store(tmp_path)
    cfg = load_alerts(alerts_toml(tmp_path, smtp_server, webhook, quiet="06:30-07:30"))
    with open_store(url) as store:
        d = Dispatcher(store, cfg)
        at = T_EVENT + pd.Timedelta(minutes=45)  # 06:45: quiet, the leak is 45 min unacknowledged
        counts = d.submit(collect(store, at, cfg.thresholds), at)
        assert d.wait(30)
        assert counts["held"] == 1  # the warning; the leak itself (critical) broke through
        assert [m["Subject"] for m in smtp_server.messages] == ["[tirta] Leak 1 near p257 (2.5 L/s)"]
        after = pd.Timestamp("2024-05-01T07:31Z")
        assert d.submit([], after)["released"] == 1
        assert d.wait(30)
        d.close()
    assert "unacknowledged" in smtp_server.messages[-1]["Subject"]


def test_silent_sensor_alert(
    tmp_path: Path, smtp_server: SmtpServer, webhook: Receiver, secrets: None
) -> None:
    url = f"duckdb:///{tmp_path / 's.duckdb'}"
    with open_store(url) as store:
        store.add_sensors([make_sensor({"id": "n1", "kind": "pressure", "unit": "m"})])
        times = pd.date_range("2024-05-01", periods=12, freq="5min", tz="UTC")
        store.write(pd.DataFrame({"sensor": "n1", "time": times, "value": 30.0}), source="test")
        cfg = load_alerts(alerts_toml(tmp_path, smtp_server, webhook))
        found = collect(store, times[-1] + pd.Timedelta(minutes=90), cfg.thresholds)
        assert [a.rule for a in found] == [
            "sensor.silent"
        ] and "n1 silent since 2024-05-01 00:55" in found[0].title
        assert collect(store, times[-1] + pd.Timedelta(minutes=30), cfg.thresholds) == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[channels.m]\ntype = "pager"\n', "channels.m.type"),
        (
            '[channels.m]\ntype = "webhook"\nurl = "http://x"\n[[subscriptions]]\nchannel = "m"\nrules = ["leak.gone"]\n',
            "subscriptions[0].rules",
        ),
        ('[channels.m]\ntype = "webhook"\nurl = "http://x"\nsecret = "inline"\n', "channels.m.secret"),
    ],
)
def test_bad_alerts_file_names_the_key(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_alerts(path)
    assert info.value.field == field and info.value.file == str(path)
