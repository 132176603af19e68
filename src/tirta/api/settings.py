"""Settings of the API server: built on demand by :func:`api_settings`, never at import.

Values come from explicit arguments (CLI flags), then ``TIRTA_*`` environment variables, then
defaults. The store URL is the one of :func:`tirta.config.settings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tirta.config import Settings, parse_store_url, settings
from tirta.errors import InputError
from tirta.network.model import builtin_network_path

__all__ = ["ApiSettings", "api_settings", "default_users_db"]

T = TypeVar("T", int, float)


@dataclass(frozen=True)
class ApiSettings:
    """What the API server needs: the store, the users database, the model and the limits.

    ``users_db`` None (the default) keeps users, keys and sessions in the store itself; a path keeps
    them in that SQLite file instead (one process only)."""

    store_url: str
    users_db: Path | None
    network: Path
    dmas: Path
    audit_file: Path | None = None  # published audit (AUDIT.toml) behind the public KPIs
    billing: Path | None = None  # billing CSV for DMA balances (else the AMR meters)
    kpis_file: Path | None = (
        None  # published KPI inputs: a UTILITY.toml or a directory of them (history)
    )
    max_body_bytes: int = 10_000_000  # request bodies above this get 413
    ingest_per_minute: int = 120  # POST /readings per API key and minute; above it 429
    page_max: int = 10_000  # largest page a list endpoint returns
    session_ttl_s: float = 8 * 3600.0  # a dashboard session ends this long after login
    poll_s: float = 5.0  # dashboard pages poll for updates this often
    waste_file: Path | None = None  # waste.toml behind the waste page and the public waste KPIs
    districts: Path | None = None  # districts file (CSV/GeoJSON) behind the planning page
    plants_file: Path | None = None  # wastewater plant registry (TOML) behind the plant pages
    display_units: str = ""  # TIRTA_DISPLAY_UNITS: what a user without their own choice sees (SI)
    map_tiles: str | None = None  # TIRTA_MAP_TILES: raster tile URL {z}/{x}/{y} under the map (off)
    map_crs: str | None = None  # TIRTA_MAP_CRS: CRS of the model's coordinates, for the tiles
    map_attribution: str = ""  # TIRTA_MAP_ATTRIBUTION: credit shown on the tiles

    @property
    def network_notice(self) -> str | None:
        """Said wherever the model is shown when it is tirta's built-in L-Town, not one configured."""
        if self.network.resolve() != builtin_network_path("l-town").resolve():
            return None
        return (
            "showing tirta's built-in L-Town model: no network was configured "
            "(tirta serve --network NET.inp --dmas FILE, or TIRTA_NETWORK and TIRTA_DMAS)"
        )


def default_users_db(store_url: str) -> Path:
    """Where older versions kept the users by default (``x.duckdb`` → ``x.users.sqlite``, else ./):
    imported into the store when the store has no users yet."""
    parsed = parse_store_url(store_url)
    if parsed.backend == "duckdb":
        return parsed.path.with_suffix(".users.sqlite")
    return Path("tirta.users.sqlite")


def _users_db(given: str | Path | None) -> Path | None:
    """An explicit SQLite users file, else None: users live in the store."""
    return Path(given) if given else None


def _positive(environ: Mapping[str, str], name: str, default: T, kind: Callable[[str], T]) -> T:
    """A positive ``int`` or ``float`` from ``environ[name]``, ``default`` when unset or empty."""
    text = environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InputError(f"expected {what}, got '{text}'", field=name) from None
    if not value > 0:
        raise InputError("must be positive", field=name)
    return value


def api_settings(
    *,
    store_url: str | None = None,
    users_db: str | Path | None = None,
    network: str | Path | None = None,
    dmas: str | Path | None = None,
    audit_file: str | Path | None = None,
    billing: str | Path | None = None,
    waste_file: str | Path | None = None,
    kpis_file: str | Path | None = None,
    plants_file: str | Path | None = None,
    max_body_bytes: int | None = None,
    ingest_per_minute: int | None = None,
    env: Mapping[str, str] | None = None,
    base: Settings | None = None,
) -> ApiSettings:
    """API settings from explicit values, else ``TIRTA_USERS_DB``, ``TIRTA_NETWORK``, ``TIRTA_DMAS``,
    ``TIRTA_AUDIT_FILE``, ``TIRTA_BILLING``, ``TIRTA_KPIS_FILE``, ``TIRTA_MAX_BODY_BYTES``,
    ``TIRTA_INGEST_PER_MINUTE``, ``TIRTA_SESSION_TTL_S``, ``TIRTA_POLL_S``, ``TIRTA_WASTE_FILE``,
    ``TIRTA_DISTRICTS``, ``TIRTA_PLANTS_FILE``, ``TIRTA_DISPLAY_UNITS``, ``TIRTA_MAP_TILES``,
    ``TIRTA_MAP_CRS``, ``TIRTA_MAP_ATTRIBUTION``, else defaults
    (L-Town's model and DMAs shipped with tirta)."""
    environ = os.environ if env is None else env
    tiles, tiles_crs, attribution = _map_tiles(environ)
    url = (base or settings(store_url=store_url, env=environ)).store_url
    inp = builtin_network_path("l-town")
    net = Path(network or environ.get("TIRTA_NETWORK") or inp)
    beside = net.with_suffix(".dmas.toml")  # the convention of `tirta network info`
    dma_default = inp.with_name("L-TOWN.dmas.toml") if net == inp else beside
    dma_path = dmas or environ.get("TIRTA_DMAS") or (dma_default if dma_default.is_file() else None)
    if dma_path is None:
        raise InputError(
            f"give the DMA file of the network (--dmas or TIRTA_DMAS; none beside it as {beside.name})",
            file=net,
            field="TIRTA_DMAS",
        )
    audit = audit_file or environ.get("TIRTA_AUDIT_FILE") or None
    bills = billing or environ.get("TIRTA_BILLING") or None
    waste = waste_file or environ.get("TIRTA_WASTE_FILE") or None
    kpis = kpis_file or environ.get("TIRTA_KPIS_FILE") or None
    sample = inp.parents[1] / "coverage" / "l-town-districts.geojson"  # illustrative, for L-Town only
    districts = environ.get("TIRTA_DISTRICTS") or (sample if _is_copy(net, inp) else None)
    plants = plants_file or environ.get("TIRTA_PLANTS_FILE") or None
    return ApiSettings(
        store_url=url,
        users_db=_users_db(users_db or environ.get("TIRTA_USERS_DB")),
        network=net,
        dmas=Path(dma_path),
        audit_file=Path(audit) if audit else None,
        billing=Path(bills) if bills else None,
        kpis_file=Path(kpis) if kpis else None,
        max_body_bytes=max_body_bytes or _positive(environ, "TIRTA_MAX_BODY_BYTES", 10_000_000, int),
        ingest_per_minute=ingest_per_minute or _positive(environ, "TIRTA_INGEST_PER_MINUTE", 120, int),
        session_ttl_s=_positive(environ, "TIRTA_SESSION_TTL_S", 8 * 3600.0, float),
        poll_s=_positive(environ, "TIRTA_POLL_S", 5.0, float),
        waste_file=Path(waste) if waste else None,
        districts=Path(districts) if districts else None,
        plants_file=Path(plants) if plants else None,
        display_units=_display_default(environ),
        map_tiles=tiles,
        map_crs=tiles_crs,
        map_attribution=attribution,
    )


def _display_default(environ: Mapping[str, str]) -> str:
    """``TIRTA_DISPLAY_UNITS``, checked at start-up (a UnitError names the variable)."""
    from tirta.errors import UnitError
    from tirta.units import DISPLAY_ENV, display_units

    spec = environ.get(DISPLAY_ENV, "").strip()
    try:
        display_units(spec)
    except UnitError as exc:
        raise UnitError(exc.message, field=DISPLAY_ENV) from None
    return spec


def _map_tiles(environ: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    """The basemap settings: a tile URL with {z}, {x} and {y} and the CRS of the model (both or none)."""
    url = environ.get("TIRTA_MAP_TILES", "").strip() or None
    crs = environ.get("TIRTA_MAP_CRS", "").strip() or None
    attribution = environ.get("TIRTA_MAP_ATTRIBUTION", "").strip()
    if url is None:
        return None, crs, attribution
    if not url.startswith(("http://", "https://")) or any(k not in url for k in ("{z}", "{x}", "{y}")):
        raise InputError(
            "expected an http(s) URL template with {z}, {x} and {y}, e.g. "
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            field="TIRTA_MAP_TILES",
        )
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError:
            raise InputError(
                f"unknown CRS '{crs}'; expected e.g. EPSG:32748", field="TIRTA_MAP_CRS"
            ) from None
    return url, crs, attribution


def _is_copy(path: Path, original: Path) -> bool:
    """``path`` is ``original`` or a byte-for-byte copy of it (the demo city copies L-Town)."""
    if path == original:
        return True
    try:
        return (
            path.stat().st_size == original.stat().st_size and path.read_bytes() == original.read_bytes()
        )
    except OSError:
        return False
