"""Shared cases of the balance tests: the Jakarta-scale audit of water-balance.md §9.3 (synthetic [D])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tirta.balance import BalanceInputs, Share, SystemData, Volume

# The audit file of the task brief (TOML contract of ``tirta balance compute``); Lp = 5890.1 km there.
JAKARTA_TOML = """\
[system]
mains_length_km = 12600
connections = 1178022
private_pipe_length_km = 5890.1      # between property boundary and customer meter
average_pressure_m = 15
supply_hours_per_day = 24            # intermittent supply below 24
days = 365                           # length of the audit period

[volumes]                            # m³ over the period; a number, or a table with margin_pct (95 %)
own_sources = { value = 600e6, margin_pct = 2 }
imported = 0
exported = 0
billed_metered = { value = 320e6, margin_pct = 1 }
billed_unmetered = { value = 4e6, margin_pct = 10 }
unbilled_metered = { value = 2e6, margin_pct = 5 }
unbilled_unmetered = { pct_of_supplied = 1.25, margin_pct = 30 }
unauthorised = { pct_of_supplied = 2, margin_pct = 50 }
customer_meter_under_registration_pct = { value = 5, margin_pct = 30 }   # % of true metered use
data_handling_errors = { pct_of_billed_metered = 0.25, margin_pct = 50 }

[costs]                              # optional
variable_production_cost_per_m3 = 0.2
retail_tariff_per_m3 = 0.5
"""


@pytest.fixture
def jakarta_inputs() -> BalanceInputs:
    """§9.3 inputs with the 95 % margins of its uncertainty paragraph."""
    return BalanceInputs(
        own_sources=Volume(600e6, margin_pct=2),
        imported=Volume(0.0),
        exported=Volume(0.0),
        billed_metered=Volume(320e6, margin_pct=1),
        billed_unmetered=Volume(4e6, margin_pct=10),
        unbilled_metered=Volume(2e6, margin_pct=5),
        customer_meter_under_registration_pct=Volume(5.0, margin_pct=30),
        unbilled_unmetered=Share(1.25, margin_pct=30),
        unauthorised=Share(2.0, margin_pct=50),
        data_handling_errors=Share(0.25, margin_pct=50),
    )


@pytest.fixture
def jakarta_system() -> SystemData:
    """§9.3 system: Lp = 5 m per connection = 5,890.11 km (the table rounds it to 5,890.1)."""
    return SystemData(
        mains_length_km=12600.0,
        connections=1178022,
        private_pipe_length_km=1178022 * 5 / 1000,
        average_pressure_m=15.0,
        supply_hours_per_day=24.0,
        days=365.0,
    )


@pytest.fixture
def jakarta_toml(tmp_path: Path) -> Path:
    """The brief's example AUDIT.toml written into tmp_path."""
    path = tmp_path / "audit.toml"
    path.write_text(JAKARTA_TOML, encoding="utf-8")
    return path


# --- a small simulated L-Town store (3 days), with and without a leak from the same seed ---------------
LTOWN_DAYS = 3.0
LTOWN_SEED = 7


def _ltown_store(root: Path, leaks: int) -> tuple[str, Any]:
    from tirta.hydraulics.simulate import SimulationConfig, simulate
    from tirta.network import load_network, load_sensors
    from tirta.network.model import builtin_network_path
    from tirta.telemetry.ingest import ingest_file
    from tirta.telemetry.store import open_store

    inp = builtin_network_path("l-town")
    net = load_network(inp)
    sensors = load_sensors(inp.with_name("sensors.json"), net)
    cfg = SimulationConfig(
        days=LTOWN_DAYS, leaks=(leaks, leaks), seed=LTOWN_SEED, leak_diameter_m=(0.02, 0.025)
    )
    telemetry = root / f"telemetry-{leaks}"
    result = simulate(net, cfg, sensors=sensors, out=telemetry)
    url = f"duckdb:///{root / f'ltown-{leaks}.duckdb'}"
    with open_store(url) as store:
        ingest_file(store, telemetry, network=net)
    return url, result


@pytest.fixture(scope="session")
def ltown_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Store URLs and simulation results of 3 days of L-Town: ``leak_free`` and ``leak`` (same seed)."""
    root = tmp_path_factory.mktemp("ltown")
    free_url, free = _ltown_store(root, 0)
    leak_url, leak = _ltown_store(root, 1)
    return {"leak_free": free_url, "leak": leak_url, "free_result": free, "leak_result": leak}


@pytest.fixture
def ltown_billing(tmp_path: Path) -> Path:
    """Billing CSV for January 2021: A and B metered accounts and one unmetered account in A."""
    path = tmp_path / "billing.csv"
    path.write_text(
        "account,dma,period,billed_m3,metered\n"
        "a-1,A,2021-01,60000,yes\n"
        "a-2,A,2021-01,30000,yes\n"
        "a-3,A,2021-01,1000,no\n"
        "b-1,B,2021-01,4000,yes\n"
        "c-1,C,2021-01,9999,yes\n",
        encoding="utf-8",
    )
    return path
