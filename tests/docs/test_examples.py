"""The job bodies the README and docs/api.md post (`curl ... -d '{...}'`) are valid params of their kind
now: a renamed param or a changed bound turns the walk-through red here, not in a newcomer's shell."""
import json
import re

import pytest

from jobs.registry import get_kind
from tools.gendocs.blocks import ROOT

BODY = re.compile(r"-d '(\{.*?\})'", re.S)
PAGES = ["README.md", "docs/api.md"]


def bodies():
    for page in PAGES:
        for body in BODY.findall((ROOT / page).read_text()):
            yield page, body


@pytest.mark.parametrize("page,body", list(bodies()))
def test_a_posted_job_body_validates_against_its_kinds_schema(page, body):
    job = json.loads(body)
    get_kind(job["kind"]).params.model_validate(job["params"])


def test_both_pages_post_a_job():
    assert {page for page, _ in bodies()} == set(PAGES)
