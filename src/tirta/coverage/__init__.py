"""Coverage: who is served by the piped network, what reaching the target takes, and where to start.

Districts from CSV or GeoJSON, coverage and JMP shares, trends, projection, and a ranked list of districts.
"""

from __future__ import annotations

from tirta.coverage.districts import MODEL_CRS, Districts, load_districts
from tirta.coverage.metrics import JMP_COLUMNS, coverage_by_year, project, totals
from tirta.coverage.ranking import Siting, headroom_lps, locate, rank
from tirta.coverage.report import CoverageReport, coverage_report

__all__ = [
    "JMP_COLUMNS",
    "MODEL_CRS",
    "CoverageReport",
    "Districts",
    "Siting",
    "coverage_by_year",
    "coverage_report",
    "headroom_lps",
    "load_districts",
    "locate",
    "project",
    "rank",
    "totals",
]
