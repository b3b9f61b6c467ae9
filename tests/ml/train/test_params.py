import json

import pytest
from pydantic import ValidationError

from ml.train import Params


def test_defaults_are_valid_and_the_schema_is_json():
    p = Params()
    assert p.objective == "rectified_flow" and p.data.type == "moons" and p.world_size == 1
    schema = Params.model_json_schema()
    json.dumps(schema)
    assert {"data", "objective", "steps", "batch_size", "lr", "optimizer", "model", "split", "width", "depth",
            "warmup_steps", "ema_decay", "grad_clip", "checkpoint_every", "eval_every", "timesteps", "loss",
            "distill_steps", "reflow_pairs", "world_size", "seed", "device"} <= set(schema["properties"])


@pytest.mark.parametrize("data", [{"type": "gmm"}, {"type": "moons"}, {"type": "checkerboard"}, {"type": "spirals"},
                                  {"type": "digits"}, {"type": "dna", "length": 50}])
def test_every_data_type_parses_by_its_type_key(data):
    assert Params.model_validate({"data": data}).data.type == data["type"]


@pytest.mark.parametrize("bad", [
    {"data": {"type": "gmm", "means": [[0, 0]], "stds": [1, 2], "weights": [1]}},  # lengths differ
    {"data": {"type": "gmm", "means": [[0, 0]], "stds": [-1], "weights": [1]}},
    {"steps": 0}, {"objective": "gan"}, {"optimizer": "sgd"}, {"stepz": 10}, {"lr": float("nan")},
])
def test_bad_params_are_rejected(bad):
    with pytest.raises(ValidationError):
        Params.model_validate(bad)
