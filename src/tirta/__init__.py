"""tirta: software a water and wastewater utility runs to operate its networks and plants.

Packages are cut by domain (network, hydraulics, telemetry, leaks, balance, ...); cli is a thin shell.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
