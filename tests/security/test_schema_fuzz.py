"""schemathesis against the live server's /api/schema/, every operation, with a valid token:
no 5xx, and every 4xx answers JSON. Bounded (a few examples per operation) to fit CI.

Besides its own strings and numbers, the fuzzer draws from dictionaries of what PostgreSQL and
Python's int() refuse (NUL characters, non-ASCII digits) and of numbers past every bound and past
bigint, in valid requests and in ones that break the schema."""
import json

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from hypothesis import HealthCheck, given, settings

from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


HOSTILE_STRINGS = ["\x00", "sample\x00", "\x00\x00" * 8, "²", "1,²", "٣", "١٢", "𝟗", "1_000", "+1", " 1 ", "-0",
                   "9" * 30, "1e309", "NaN", "\ud7ff\ufffd"]
HUGE_NUMBERS = [2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**300, -(10**30)]
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({
    "dictionaries": {"hostile-strings": {"values": HOSTILE_STRINGS}, "huge-numbers": {"values": HUGE_NUMBERS}},
    "generation": {"mode": "all", "allow-x00": True,
                   "dictionaries": {"string": {"dictionary": "hostile-strings", "probability": 0.5},
                                    "integer": {"dictionary": "huge-numbers", "probability": 0.5},
                                    "number": {"dictionary": "huge-numbers", "probability": 0.5}}},
})


def _nul_in_header(case) -> bool:
    fields = {**(case.headers or {}), **(case.cookies or {})}
    return any("\x00" in f"{k}{v}" for k, v in fields.items())


@schemathesis.check
def error_answers_are_json(ctx, response, case):
    if response.status_code == 400 and not response.content and _nul_in_header(case):
        return  # the HTTP server's own refusal of a NUL in a field value (RFC 9110, 5.5): Django never sees it
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", [""])[0]
        assert ctype.startswith("application/json"), f"{response.status_code} answered {ctype}"
        json.loads(response.content)


def test_every_operation_fuzzed_with_a_valid_token(live_server_url, token, user):
    # staff, so that the staff-only operations (/api/users/) are fuzzed past their 403
    user.is_staff = True
    user.save()
    headers = {"Authorization": f"Token {token}"}
    schema = schemathesis.openapi.from_url(f"{live_server_url}/api/schema/?format=json", config=CONFIG,
                                           headers=headers, timeout=60)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    paths = {op.path for op in operations}
    assert {"/api/tokens/", "/api/tokens/{id}/", "/api/users/", "/api/users/{id}/"} <= paths, paths
    try:
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def fuzz(case):
                case.call_and_validate(base_url=live_server_url, headers=headers, timeout=60,
                                       checks=[not_a_server_error, error_answers_are_json])

            fuzz()
    finally:
        # what the fuzzer submitted must not keep busy a worker that another test needs
        Job.objects.filter(owner=user, status__in=Job.ACTIVE).update(status="cancelled", cancel_requested=True)
