"""Which later alarm is a leak found before (still growing) and which is a new leak."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import LTOWN
from tirta.leaks.detect.base import Alarm
from tirta.leaks.evaluate import Detection, PipeDistances
from tirta.leaks.localize import Localisation
from tirta.leaks.pipeline import Found, PipelineConfig, _repeat_of
from tirta.network import load_network

T = pd.Timestamp("2021-01-20 03:00", tz="UTC")


@pytest.fixture(scope="module")
def dist() -> PipeDistances:
    return PipeDistances(load_network(LTOWN))


def _alarm(method: str, zone: str = "A", hours: float = 0.0) -> Alarm:
    t = T + pd.Timedelta(hours=hours)
    return Alarm(method, t, t, 2.0, 0.8, zone)


def _loc(pipe: str, radius: float = 50.0) -> Localisation:
    return Localisation(pipe, radius, 2.0, ())


def test_a_flow_alarm_pressure_did_not_confirm_repeats_the_leak_of_its_zone(dist) -> None:
    found = [Found(Detection("p257", T), _alarm("dma_flow+pressure"), _loc("p257"))]
    # localised across the zone (> 300 m + its radius from p257): a new leak under the old rule
    other = next(p for p in ("p800", "p700", "p600", "p500") if dist.between(p, "p257") > 1000)
    later = _alarm("dma_flow", hours=48)
    vague = _loc(other, radius=400.0)  # no sharper than the 300 m repeat distance
    assert _repeat_of(vague, later, found, dist, PipelineConfig(flow_only_repeats=False)) is None
    assert _repeat_of(vague, later, found, dist, PipelineConfig(flow_only_repeats=True)) == 0
    # a sharp localisation far from the leak found stands on its own, confirmed or not
    assert _repeat_of(_loc(other), later, found, dist, PipelineConfig(flow_only_repeats=True)) is None
    # the pressure sensors saw this one: it stays a new leak
    seen = _alarm("dma_flow+pressure", hours=48)
    assert _repeat_of(vague, seen, found, dist, PipelineConfig(flow_only_repeats=True)) is None
    # another zone: never a repeat
    elsewhere = _alarm("dma_flow", zone="B", hours=48)
    assert _repeat_of(vague, elsewhere, found, dist, PipelineConfig(flow_only_repeats=True)) is None
    # close to the leak found: a repeat under either rule
    near = next(p for p in ("p256", "p258", "p255") if dist.between(p, "p257") < 300)
    assert _repeat_of(_loc(near), later, found, dist, PipelineConfig(flow_only_repeats=False)) == 0


def test_the_window_before_an_alarm_runs_from_the_zones_last_flow_change() -> None:
    """The flow step was measured against the level since the zone's last change: the pressure change
    is taken over the same span (at most ``before_max_h``), and the window after stops at a repair."""
    from tirta.leaks.pipeline import _windows

    cfg = PipelineConfig()
    alarm = _alarm("dma_flow", hours=96)
    t0 = alarm.start
    assert _windows(alarm, [], None, cfg) == (
        t0 - pd.Timedelta(hours=24),
        t0,
        t0,
        t0 + pd.Timedelta(hours=24),
    )
    tb, _, _, _ = _windows(alarm, [], t0 - pd.Timedelta(hours=60), cfg)
    assert tb == t0 - pd.Timedelta(hours=60)  # three days of growth, not the last 24 h
    tb, _, _, _ = _windows(alarm, [], t0 - pd.Timedelta(days=30), cfg)
    assert tb == t0 - pd.Timedelta(hours=cfg.before_max_h)  # bounded
    tb, _, _, _ = _windows(alarm, [], t0 - pd.Timedelta(minutes=20), cfg)
    assert tb == t0 - pd.Timedelta(hours=24)  # too recent to be a window: the usual one
    repair = t0 + pd.Timedelta(hours=16)
    assert _windows(alarm, [repair], None, cfg)[3] == repair
