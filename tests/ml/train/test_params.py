import json

import pytest
from pydantic import ValidationError

from ml.train import Params
from ml.train.params import MaskedDiffusionParams, Objective, OracleParams


def test_defaults_are_valid_and_the_schema_is_json():
    p = Params()
    assert p.objective == "rectified_flow" and p.data.type == "moons" and p.world_size == 1
    schema = Params.model_json_schema()
    json.dumps(schema)
    # the root is the union of the three branches, picked by `objective`
    assert schema["discriminator"]["propertyName"] == "objective" and len(schema["oneOf"]) == 3
    assert set(schema["discriminator"]["mapping"]) == set(Objective.__args__)
    props = {name: set(d["properties"]) for name, d in schema["$defs"].items() if name.endswith("Params")}
    assert {"data", "objective", "steps", "batch_size", "lr", "optimizer", "model", "width", "depth",
            "warmup_steps", "ema_decay", "grad_clip", "checkpoint_every", "eval_every", "timesteps", "loss",
            "distill_steps", "reflow_pairs", "world_size", "seed", "device"} <= props["ContinuousParams"]
    assert "split" in props["OracleParams"] and "depth" in props["MaskedDiffusionParams"]
    assert schema["$defs"]["ContinuousParams"]["properties"]["slimflow_guidance"]["x-when"] == {"objective": ["slimflow"]}


@pytest.mark.parametrize("data", [{"type": "gmm"}, {"type": "moons"}, {"type": "checkerboard"}, {"type": "spirals"},
                                  {"type": "digits"}])
def test_every_data_type_parses_by_its_type_key(data):
    assert Params.model_validate({"data": data}).data.type == data["type"]


def test_the_dna_objectives_are_their_own_branches_with_their_own_defaults():
    # what the DNA tests and benches ran with (ml/dna/train_job.py's DEFAULTS before it had a schema)
    m = Params.model_validate({"objective": "masked_diffusion", "data": {"length": 50}})
    assert isinstance(m, MaskedDiffusionParams) and m.data.length == 50
    assert (m.steps, m.batch_size, m.lr, m.width, m.depth, m.warmup_steps, m.ema_decay, m.grad_clip,
            m.checkpoint_every, m.eval_every) == (1000, 128, 1e-3, 64, 10, 100, 0.999, 1.0, 200, 0)
    o = Params.model_validate({"objective": "oracle", "split": 1})
    assert isinstance(o, OracleParams) and o.split == 1 and o.data.type == "dna" and o.width == 64


@pytest.mark.parametrize("params, field", [
    ({"objective": "oracle", "depth": 3}, "depth"),                     # the oracle's CNN has no depth
    ({"objective": "masked_diffusion", "reflow_pairs": 64}, "reflow_pairs"),
    ({"objective": "masked_diffusion", "split": 1}, "split"),
    ({"objective": "rectified_flow", "split": 1}, "split"),
    ({"objective": "rectified_flow", "data": {"type": "dna"}}, "data"),  # the DNA task is for its own objectives
    ({"objective": "rectified_flow", "slimflow_guidance": 2.0}, "slimflow_guidance"),
    ({"objective": "vp_eps", "distill_steps": 2}, "distill_steps"),
    ({"objective": "gan"}, "objective"),
])
def test_a_field_outside_its_objective_is_refused_by_name(params, field):
    with pytest.raises(ValidationError) as exc:
        Params.model_validate(params)
    assert field in {".".join(map(str, e["loc"][:2])) for e in exc.value.errors()}


@pytest.mark.parametrize("bad", [
    {"data": {"type": "gmm", "means": [[0, 0]], "stds": [1, 2], "weights": [1]}},  # lengths differ
    {"data": {"type": "gmm", "means": [[0, 0]], "stds": [-1], "weights": [1]}},
    {"steps": 0}, {"objective": "gan"}, {"optimizer": "sgd"}, {"stepz": 10}, {"lr": float("nan")},
])
def test_bad_params_are_rejected(bad):
    with pytest.raises(ValidationError):
        Params.model_validate(bad)


def test_a_field_of_another_objective_reads_like_a_when_rule_not_like_a_typo():
    with pytest.raises(ValidationError) as exc:
        Params.model_validate({"objective": "masked_diffusion", "reflow_pairs": 64, "stepz": 3})
    msgs = {e["loc"][0]: e["msg"] for e in exc.value.errors()}
    assert msgs == {"reflow_pairs": "applies only when objective is reflow or distill or slimflow (it is masked_diffusion)",
                    "stepz": "Extra inputs are not permitted"}
