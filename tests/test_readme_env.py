"""Every ``TIRTA_*`` environment variable the code reads is in the README's settings table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_is_documented_in_the_readme_table():
    used = set()
    for path in (ROOT / "src" / "tirta").rglob("*.py"):
        used |= set(re.findall(r"\bTIRTA_[A-Z][A-Z_]*[A-Z]\b", path.read_text(encoding="utf-8")))
    rows = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("  | `TIRTA_")
    ]
    documented = set(re.findall(r"`(TIRTA_[A-Z_]+)`", "\n".join(rows)))
    assert used, "no TIRTA_ variable found in src"
    assert sorted(used - documented) == []
