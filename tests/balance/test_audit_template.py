"""``tirta balance template``: a commented audit that ``tirta balance compute`` accepts as it is."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tirta.balance import audit as audit_mod
from tirta.balance.audit import audit_template, load_audit, run_audit


def test_template_piped_into_compute_gives_a_balance(tmp_path: Path) -> None:
    """The contract: ``tirta balance template > audit.toml`` then ``compute audit.toml --json``."""
    made = subprocess.run(
        [sys.executable, "-m", "tirta", "balance", "template"],
        capture_output=True,
        text=True,
        check=True,
    )
    path = tmp_path / "audit.toml"
    path.write_text(made.stdout, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "tirta", "balance", "compute", str(path), "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert 0 < report["nrw_pct"] < 100
    assert report["ili"] > 1


def test_template_names_every_key_the_parser_knows() -> None:
    """A key added to the audit parser must appear in the template, with a comment on the file."""
    doc = tomllib.loads(audit_template())
    known = {
        "system": set(audit_mod._SYSTEM_REQUIRED) | set(audit_mod._SYSTEM_OPTIONAL),
        "volumes": set(audit_mod._VOLUMES_REQUIRED) | set(audit_mod._VOLUMES_DEFAULTABLE),
        "costs": set(audit_mod._COSTS_REQUIRED) | set(audit_mod._COSTS_OPTIONAL),
    }
    for section, keys in known.items():
        assert set(doc[section]) == keys, section
    assert audit_template().count("#") > 30  # commented, not a bare file


def test_template_out_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "audit.toml"
    subprocess.run(
        [sys.executable, "-m", "tirta", "balance", "template", "--out", str(target)], check=True
    )
    result = run_audit(load_audit(target))
    assert result.balance.real_losses.value > 0
    again = subprocess.run(
        [sys.executable, "-m", "tirta", "balance", "template", "--out", str(target)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 2
    assert f"{target}: file exists" in again.stderr
