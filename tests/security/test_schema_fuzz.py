"""schemathesis against the live server's /api/schema/, every operation, with a valid token:
no 5xx, and every 4xx answers JSON. Bounded (a few examples per operation) to fit CI."""
import json

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from hypothesis import HealthCheck, given, settings

from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@schemathesis.check
def error_answers_are_json(ctx, response, case):
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", [""])[0]
        assert ctype.startswith("application/json"), f"{response.status_code} answered {ctype}"
        json.loads(response.content)


def test_every_operation_fuzzed_with_a_valid_token(live_server_url, token, user):
    headers = {"Authorization": f"Token {token}"}
    schema = schemathesis.openapi.from_url(f"{live_server_url}/api/schema/?format=json", headers=headers, timeout=60)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    try:
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                      database=None)
            def fuzz(case):
                case.call_and_validate(base_url=live_server_url, headers=headers, timeout=60,
                                       checks=[not_a_server_error, error_answers_are_json])

            fuzz()
    finally:
        # what the fuzzer submitted must not keep busy a worker that another test needs
        Job.objects.filter(owner=user, status__in=Job.ACTIVE).update(status="cancelled", cancel_requested=True)
