"""The hydraulic-model detector: the model driven by the measurements, its residuals and alarms."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import LTOWN
from tirta.errors import InputError
from tirta.hydraulics.simulate import SimulationConfig, simulate
from tirta.leaks.detect import Ensemble, ModelDetector, model_pressures
from tirta.leaks.detect.base import Detector
from tirta.network import load_network, load_sensors
from tirta.telemetry.battledim import ScadaData

RESIDUAL_MEDIAN_M = 0.015  # leak-free: median |measured − modelled| hourly pressure (seen: 7 mm)
RESIDUAL_P95_M = 0.04  # ... and its 95th percentile (seen: 21 mm; tank-zone evenings are the worst)


@pytest.fixture(scope="module")
def net():
    return load_network(LTOWN)


@pytest.fixture(scope="module")
def sensors(net):
    return load_sensors(LTOWN.with_name("sensors.json"), net)


@pytest.fixture(scope="module")
def day(net, sensors) -> ScadaData:
    """One leak-free simulated day of L-Town telemetry (the 'real' network differs from the model)."""
    return simulate(net, SimulationConfig(days=1, leaks=(0, 0), seed=3), sensors=sensors).scada


def _residual(net, data: ScadaData, **kw) -> pd.DataFrame:
    model = model_pressures(net, data, list(data.pressure.columns), **kw)
    return data.pressure.resample("1h").mean().reindex(model.index) - model


def test_model_residual_is_small_without_leaks(net, day):
    r = np.abs(_residual(net, day).to_numpy())
    assert r.shape == (24, 33)
    assert np.median(r) < RESIDUAL_MEDIAN_M
    assert np.quantile(r, 0.95) < RESIDUAL_P95_M


def test_model_without_amr_meters_spreads_the_zone_inflow(net, day):
    # no AMR at all: the zone consumption alone drives the model, still within a few centimetres
    r = np.abs(_residual(net, day, amrs=[]).to_numpy())
    assert np.median(r) < 2 * RESIDUAL_MEDIAN_M


@pytest.fixture(scope="module")
def fitted(net, day) -> ModelDetector:
    return ModelDetector(sample_every=40).fit(day, net)


def test_a_lost_amr_meter_is_filled_from_the_category_split(day, fitted):
    det = fitted
    assert isinstance(det, Detector)
    lost = day.demand.columns[:5]
    fewer = replace(day, demand=day.demand.drop(columns=lost))
    full, part = det.residuals(day), det.residuals(fewer)
    assert float(np.nanmedian(np.abs((part - full).to_numpy()))) < 0.01


def test_a_missing_pressure_sensor_is_an_input_error(day, fitted):
    with pytest.raises(InputError, match="n1"):
        fitted.detect(replace(day, pressure=day.pressure.drop(columns=["n1"])))


def test_a_pressure_gap_does_not_blind_the_detector(day, fitted):
    gappy = day.pressure.copy()
    gappy.iloc[:, 3] = np.nan
    stat = fitted.statistic(replace(day, pressure=gappy))
    assert np.isfinite(stat.to_numpy()).all()


@pytest.fixture(scope="module")
def seed12(net, sensors):
    """Seed 12: one abrupt leak (p779, ≈ 4.9 L/s) 1.3 days into 4 days, after 14 leak-free days (the
    calibration the detector needs); and the same scenario without the leak (own random stream)."""
    cfg = SimulationConfig(days=4, train_days=14, leaks=(1, 1), seed=12)
    leak = simulate(net, cfg, sensors=sensors)
    quiet = simulate(net, replace(cfg, leaks=(0, 0)), sensors=sensors)
    return leak, quiet


@pytest.mark.slow
def test_model_detector_finds_a_leak_and_stays_quiet_without(net, seed12):
    leak, quiet = seed12
    split = leak.scada.index[0] + pd.Timedelta(days=14)
    det = ModelDetector().fit(leak.scada.slice(None, split), net)
    alarms = det.detect(leak.scada.slice(split, None))
    start = leak.truth["start"].iloc[0]
    assert len(alarms) == 1
    a = alarms[0]
    assert abs(a.start - start) <= pd.Timedelta(hours=1)  # hourly model steps
    assert a.detected_at - start <= pd.Timedelta(hours=6)
    assert 0 < a.confidence <= 1
    assert a.size_lps == pytest.approx(leak.truth["max_lps"].iloc[0], rel=0.5)
    assert det.detect(quiet.scada.slice(split, None)) == []


@pytest.mark.slow
def test_ensemble_with_model_corroborates_the_flow_alarm(net, seed12):
    leak, _ = seed12
    split = leak.scada.index[0] + pd.Timedelta(days=14)
    ens = Ensemble(model=ModelDetector()).fit(leak.scada.slice(None, split), net)
    alarms = ens.detect(leak.scada.slice(split, None))
    assert len(alarms) == 1 and alarms[0].method.endswith("+model")


def test_localisation_stacks_the_model_residual_change_next_to_the_regression(net, day, fitted):
    # a pressure drop planted at one sensor from noon shows in the model block at that sensor only
    from tirta.leaks.localize import Signatures
    from tirta.leaks.pipeline import _stack_model_change

    sensors = list(day.pressure.columns)
    pressure = day.pressure.copy()
    noon = pressure.index[0] + pd.Timedelta(hours=12)
    pressure.loc[pressure.index >= noon, "n105"] -= 0.1
    data = replace(day, pressure=pressure)
    regression = pd.Series(0.01, index=sensors)
    sig = Signatures(["a", "b"], sensors, np.arange(66.0).reshape(2, 33))
    nuisance = np.ones((33, 2)) / np.sqrt(33)
    windows = (pressure.index[0], noon, noon, pressure.index[-1])
    out = _stack_model_change(regression, sig, nuisance, fitted, data, windows, np.full(33, 0.02))
    assert out is not None
    observed, stacked, basis = out
    assert list(observed.index[:33]) == [f"r:{s}" for s in sensors]
    assert list(observed.index[33:]) == [f"m:{s}" for s in sensors]
    assert np.allclose(observed.to_numpy()[:33], 0.01)
    k = 0.02 / float(np.median(fitted.sigma))
    model = observed.to_numpy()[33:] / k  # back in metres
    j = sensors.index("n105")
    assert model[j] == pytest.approx(-0.1, abs=0.03)
    assert np.abs(np.delete(model, j)).max() < 0.05
    assert np.allclose(stacked.matrix[:, 33:], k * stacked.matrix[:, :33])
    assert basis.shape == (66, 5)  # the model block's offset, then each block's two common modes
    assert np.allclose(basis[:33, 0], 0.0) and np.allclose(basis[33:, 0], 1.0)
