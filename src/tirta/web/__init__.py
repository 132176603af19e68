"""The operators' web dashboard: login, overview, network map, sensors, events, balance, public page.

:func:`install_web` adds it to an app made by :func:`tirta.api.create_app`; templates and scripts ship
in the package (Plotly.js from the ``plotly`` package), so it works offline.
"""

from __future__ import annotations

from tirta.web.install import install_web

__all__ = ["install_web"]
