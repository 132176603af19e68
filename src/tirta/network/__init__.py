"""The utility's assets: the hydraulic model, district metered areas and the sensor registry.

Everything is held in SI units (m, m³/s); files in other units are converted when read.
"""

from __future__ import annotations

from tirta.network.dma import DMA, load_dmas
from tirta.network.model import Network, Problem, builtin_network_path, load_network
from tirta.network.sensors import Sensor, SensorRegistry, load_sensors

__all__ = [
    "DMA",
    "Network",
    "Problem",
    "Sensor",
    "SensorRegistry",
    "builtin_network_path",
    "load_dmas",
    "load_network",
    "load_sensors",
]
