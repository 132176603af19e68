"""Input and output models of the API; outputs end in ``Public`` and never carry secrets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorPublic",
    "EventActionIn",
    "EventDisplayPublic",
    "EventPublic",
    "EventsPagePublic",
    "FeatureCollectionPublic",
    "IngestPublic",
    "KpisPublic",
    "NewKeyPublic",
    "PagePublic",
    "QuarantinePagePublic",
    "ReadingsPublic",
    "ReportPublic",
    "SensorsPagePublic",
    "UserIn",
    "UserPublic",
]


#: what a user name may be (tirta.api.users checks the same)
USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


class ErrorDetail(BaseModel):
    type: str
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None


class ErrorPublic(BaseModel):
    """The one error shape."""

    error: ErrorDetail


class PagePublic(BaseModel):
    """A page of a list: ``next_offset`` is null on the last page."""

    total: int
    limit: int
    offset: int
    next_offset: int | None


class FeatureCollectionPublic(PagePublic):
    """GeoJSON FeatureCollection in the model's own coordinates (no CRS transformation)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


class SensorPublic(BaseModel):
    id: str
    kind: str
    unit: str
    quantity: str
    column: str = Field(description="name of the sensor's column in wide readings (SI unit)")
    node: str | None = None
    link: str | None = None
    dma: str | None = None
    valid_min: float | None = None
    valid_max: float | None = None
    installed: str | None = None
    cumulative: bool = False


class SensorsPagePublic(PagePublic):
    items: list[SensorPublic]


class ReadingsPublic(PagePublic):
    """Wide rows ``{time, <column>: value …}`` or long rows ``{sensor, time, value}``; UTC, in the
    caller's display units (SI unless they or the deployment chose others), named per column."""

    layout: Literal["wide", "long"]
    columns: dict[str, str] = Field(description="sensor id → column name with its unit")
    units: dict[str, str | None] = Field(
        default_factory=dict, description="sensor id → unit of its values (the caller's display units)"
    )
    items: list[dict[str, str | float | None]]


class IngestPublic(BaseModel):
    """What became of the readings sent."""

    accepted: int
    duplicate: int
    quarantined: int
    reasons: dict[str, int]


class QuarantineRowPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    received_at: str | None = None
    source: str | None = None
    sensor: str | None = None
    payload: str | None = None
    reason: str | None = None
    detail: str | None = None


class QuarantinePagePublic(PagePublic):
    items: list[QuarantineRowPublic]


class HistoryPublic(BaseModel):
    at: str | None
    who: str
    status: str
    note: str | None = None


class EventDisplayPublic(BaseModel):
    """An event's figures in the caller's display units (``PUT /me/units``), beside its SI fields."""

    units: dict[str, str] = Field(
        description="unit of each figure: flow (size), volume (water_lost), loss (loss_per_day)",
        examples=[{"flow": "gpm", "volume": "gal", "loss": "gal/day"}],
    )
    size: float | None = Field(description="size_lps in the flow unit")
    water_lost: float | None = Field(description="water_lost_m3 in the volume unit")
    loss_per_day: float | None = Field(
        description="a customer-side event's customer.loss_m3_day in the volume unit a day"
    )


class _EventFields(BaseModel):
    """Fields every view of an event shows."""

    id: int
    status: str
    detected_at: str | None
    start: str | None
    size_lps: float | None
    pipe: str | None
    radius_m: float | None
    dma: str | None
    zone: str | None
    repaired_at: str | None
    water_lost_m3: float | None
    close_proposed: str | None
    kind: str = Field(
        default="leak",
        description="'leak' (network) or a customer-side kind: customer_leak, stopped, "
        "under_registering, reverse_flow, tampering",
    )
    customer: dict[str, Any] | None = Field(
        default=None,
        description="customer-side events: customer id, node, loss_m3_day, cost_per_day, tariff_per_m3",
    )
    display: EventDisplayPublic | None = Field(
        default=None, description="size, water lost and loss a day in the caller's display units"
    )


class EventSummaryPublic(_EventFields):
    candidates: int = Field(description="number of candidate pipes (see the event's detail)")


class EventPublic(_EventFields):
    """An event with its ranked candidate pipes and its history."""

    candidates: list[dict[str, Any]]
    history: list[HistoryPublic]


class EventsPagePublic(PagePublic):
    items: list[EventSummaryPublic]


class EventActionIn(BaseModel):
    """An optional note kept in the event's history."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


class ReportPublic(BaseModel):
    """A water-balance report: volumes in m³ over the period, indicators, components, warnings."""

    model_config = ConfigDict(extra="allow")


class KpisPublic(BaseModel):
    """Transparency figures anyone may see; no personal data."""

    open_leaks: int
    open_leaks_water_lost_m3: float | None
    nrw_pct: float | None
    real_losses_m3: float | None
    real_losses_l_per_conn_day: float | None
    ili: float | None
    period_days: float | None
    source: str | None
    # published KPI set (tirta.kpis): every indicator of the latest period, its period, grade and history
    utility: str | None = None
    kpi_period: dict[str, Any] | None = None
    indicators: dict[str, Any] = Field(default_factory=dict)
    data_validity: dict[str, Any] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    licence: str | None = None
    withheld: dict[str, list[str]] = Field(
        default_factory=dict, description="KPIs not shown (null) because they fail a sanity check: why"
    )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=USER_NAME)
    role: Literal["viewer", "operator", "admin"]


class UserPublic(BaseModel):
    name: str
    role: str
    created_at: str
    active: bool
    keys: int


class NewKeyPublic(BaseModel):
    """A new API key: shown this once, stored only as a salted hash."""

    user: str
    role: str
    api_key: str
