"""API settings from the environment: numbers checked, bad ones named by their variable."""

from __future__ import annotations

import pytest

from tirta.api.settings import api_settings
from tirta.errors import InputError


def test_numbers_from_the_environment():
    cfg = api_settings(
        env={"TIRTA_POLL_S": "2", "TIRTA_MAX_BODY_BYTES": "1000", "TIRTA_BILLING": "b.csv"}
    )
    assert cfg.poll_s == 2.0 and cfg.max_body_bytes == 1000 and str(cfg.billing) == "b.csv"
    assert api_settings(env={"TIRTA_SESSION_TTL_S": ""}).session_ttl_s == 8 * 3600.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TIRTA_POLL_S": "soon"}, "field 'TIRTA_POLL_S': expected a number, got 'soon'"),
        ({"TIRTA_SESSION_TTL_S": "0"}, "field 'TIRTA_SESSION_TTL_S': must be positive"),
        ({"TIRTA_MAX_BODY_BYTES": "1.5"}, "field 'TIRTA_MAX_BODY_BYTES': expected a whole number"),
        ({"TIRTA_INGEST_PER_MINUTE": "-3"}, "field 'TIRTA_INGEST_PER_MINUTE': must be positive"),
    ],
)
def test_bad_numbers_name_the_variable(env, message):
    with pytest.raises(InputError) as err:
        api_settings(env=env)
    assert message in str(err.value)
