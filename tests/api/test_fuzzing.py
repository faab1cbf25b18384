"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

Bounded examples per operation; every response must be a non-5xx that matches the
documented schema, with a key of each role so auth paths are exercised too.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Platform, build_client, headers
from tests.factories import make_event

_platform = Platform()
_platform.store(make_event(user_id="alice"), make_event("purchase", user_id="alice", value="3.00"))
_client = build_client(_platform, rate_limit_per_second=100_000)
schema = schemathesis.openapi.from_asgi("/schema/openapi.json", _client.app)


@pytest.mark.parametrize("role", ["admin", "read"])
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case, role):
    # What the API promises: never a 5xx, and every answer (status, content type, body,
    # headers) as documented. Acceptance of arbitrary "schema-valid" input is not checked:
    # opaque cursors are free strings to the schema but only issued ones are valid.
    case.call_and_validate(headers=headers(role), checks=CHECKS)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
