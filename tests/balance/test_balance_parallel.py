"""Every DMA's balance at once: on PostgreSQL each DMA is a task of a process pool or a real Dask
cluster (scheduler and two worker processes), with the same reports as one by one in this process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dask_cluster import DaskCluster, dask_cluster  # noqa: F401  (fixture)
from tirta.balance.parallel import DmaTask, balance_all
from tirta.cli import main
from tirta.hydraulics.executors import DaskExecutor, ProcessExecutor
from tirta.network.model import builtin_network_path
from tirta.telemetry.ingest import ingest_file
from tirta.telemetry.store import open_store

LTOWN = builtin_network_path("l-town")
DMAS = LTOWN.with_name("L-TOWN.dmas.toml")


@pytest.fixture(scope="module")
def pg_ltown(ltown_stores: dict[str, Any], postgres_url: str) -> str:
    """The leaky 3-day L-Town telemetry of the balance fixtures, ingested into PostgreSQL."""
    import psycopg

    base, _, _ = postgres_url.rpartition("/")
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS balance_parallel WITH (FORCE)")
        con.execute("CREATE DATABASE balance_parallel TEMPLATE template0")
    url = f"{base}/balance_parallel"
    telemetry = Path(ltown_stores["leak"].removeprefix("duckdb:///")).parent / "telemetry-1"
    from tirta.network import load_network

    with open_store(url) as store:
        ingest_file(store, telemetry, network=load_network(LTOWN))
    return url


def _tasks(url: str) -> list[DmaTask]:
    import pandas as pd

    t0, t1 = pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2021-02-01", tz="UTC")
    return [DmaTask(url, name, str(DMAS), str(LTOWN), t0, t1) for name in ("A", "B", "C")]


@pytest.mark.slow
@pytest.mark.service
def test_each_dma_a_task_same_reports_everywhere(
    pg_ltown: str,
    ltown_stores: dict[str, Any],
    dask_cluster: DaskCluster,  # noqa: F811
) -> None:
    serial = balance_all(_tasks(pg_ltown))
    pool = balance_all(_tasks(pg_ltown), ProcessExecutor(2))
    with DaskExecutor(dask_cluster.address) as dask:
        on_dask = balance_all(_tasks(pg_ltown), dask)
    duck = balance_all(_tasks(ltown_stores["leak"]))
    assert set(serial) == {"A", "B", "C"}
    assert "PRV-3 has no flow meter" in serial["B"]["error"]  # B is measured only within A: said per DMA
    for name, rep in serial.items():
        assert rep == pool[name] == on_dask[name]
        if name != "B":
            assert rep["total"]["inflow_m3"] > 0
            assert rep["total"]["inflow_m3"] == pytest.approx(duck[name]["total"]["inflow_m3"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.service
def test_cli_balances_every_dma(pg_ltown: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["balance", "dmas", "--from", "2021-01", "--to", "2021-01", "--dmas", str(DMAS),
              "--network", str(LTOWN), "--store", pg_ltown, "--workers", "2", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), err
    reports = json.loads(out)
    assert sorted(reports) == ["A", "B", "C"]
    assert "total" in reports["A"] and "total" in reports["C"] and "error" in reports["B"]


@pytest.mark.slow
@pytest.mark.service
def test_nightly_job_fans_dmas_out_on_postgres(pg_ltown: str) -> None:
    """``tirta serve``'s nightly balance with TIRTA_BALANCE_WORKERS: each DMA a task of the pool."""
    import pandas as pd

    from tirta.network import load_dmas, load_network
    from tirta.server.jobs import Analytics, BalanceJob

    net = load_network(LTOWN)
    analytics = Analytics()
    with open_store(pg_ltown) as store:
        job = BalanceJob(
            store,
            net,
            load_dmas(DMAS, net),
            lambda: pd.Timestamp("2021-01-04T03:00Z"),
            analytics,
            days=3.0,
            claim=False,  # the same night twice on purpose: fanned out, then alone
        )
        job.fan_out = (pg_ltown, str(DMAS), str(LTOWN), ProcessExecutor(2))
        summary = job()
        job.fan_out = None
        alone = job()
    assert summary["dmas"] == ["A", "C"] == alone["dmas"] and "B" in summary["errors"]
