"""The client's types are the OpenAPI schema's: a field added to or dropped from the API fails here."""
from dataclasses import fields

import pytest

from labclient import Artifact, JobData, SweepData


@pytest.fixture(scope="module")
def components():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


@pytest.mark.parametrize("cls, name", [(JobData, "Job"), (Artifact, "Artifact"), (SweepData, "Sweep")])
def test_dataclass_fields_are_the_schemas_properties(components, cls, name):
    assert [f.name for f in fields(cls)] == list(components[name]["properties"]), name
