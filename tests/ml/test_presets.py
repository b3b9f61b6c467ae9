"""Every kind's schema carries what the dashboard form needs: presets that validate, and a default for every
field a user need not give (so the form shows a working example, not an empty box)."""
import pytest

from jobs.registry import KINDS
from ml.params import PRESETS

KIND_NAMES = sorted(KINDS)


def _is_artifact_ref(schema, prop):
    ref = prop.get("$ref") or next((a.get("$ref") for a in prop.get("anyOf", []) if "$ref" in a), None)
    return ref == "#/$defs/ArtifactRef"


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_preset_validates_against_its_params(kind):
    params = KINDS[kind].params
    schema = params.model_json_schema()
    presets = schema.get(PRESETS, {})
    assert {"quick demo", "paper config"} <= set(presets), sorted(presets)
    # the models a job reads are the user's to choose: a preset leaves them out
    models = {name: {"artifact": 1} for name in schema.get("required", [])
              if _is_artifact_ref(schema, schema["properties"][name])}
    for name, preset in presets.items():
        assert not set(models) & set(preset), (name, "names a model")
        validated = params.model_validate({**models, **preset})
        for key, value in preset.items():
            if not isinstance(value, dict):
                assert getattr(validated, key) == value, (name, key)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_optional_field_has_a_default_in_the_schema(kind):
    schema = KINDS[kind].params.model_json_schema()
    missing = [f"{model}.{name}" for model, node in [("", schema), *schema.get("$defs", {}).items()]
               for name, prop in node.get("properties", {}).items()
               if name not in node.get("required", []) and "default" not in prop]
    assert not missing, missing
