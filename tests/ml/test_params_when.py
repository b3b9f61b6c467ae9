"""ml.params: a field given where it does not apply is refused with its name (the form hides it there)."""
from typing import Literal

import pytest
from pydantic import ValidationError

from ml.params import Param, Strict


class Job(Strict):
    objective: Literal["flow", "slimflow"] = "flow"
    guidance: float = Param(1.0, when={"objective": ["slimflow"]}, advanced=True, description="slimflow only")


class Outer(Strict):
    job: Job = Job()


def test_a_field_outside_its_objective_is_refused_by_name():
    with pytest.raises(ValidationError) as e:
        Outer.model_validate({"job": {"objective": "flow", "guidance": 2.0}})
    (err,) = e.value.errors()
    assert err["loc"] == ("job", "guidance") and err["type"] == "not_applicable"
    assert "applies only when objective is slimflow (it is flow)" in err["msg"]


def test_a_field_inside_its_objective_or_left_out_is_accepted():
    assert Job.model_validate({"objective": "slimflow", "guidance": 2.0}).guidance == 2.0
    assert Job.model_validate({"objective": "flow"}).guidance == 1.0


def test_the_schema_carries_the_rule_for_the_form():
    prop = Job.model_json_schema()["properties"]["guidance"]
    assert prop["x-when"] == {"objective": ["slimflow"]} and prop["x-advanced"] is True


def test_its_default_written_out_is_accepted_where_it_does_not_apply():
    # the API stores params with every default (model_dump), and the worker validates that dump again
    dumped = Job.model_validate({"objective": "flow"}).model_dump()
    assert dumped == {"objective": "flow", "guidance": 1.0}
    assert Job.model_validate(dumped).guidance == 1.0
