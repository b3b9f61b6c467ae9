"""Non-finite values: Diverged names what and where; results become what PostgreSQL's jsonb accepts."""
import json
import math

import numpy as np
import pytest
import torch

from ml.finite import Diverged, check_loss, check_tensors, json_safe, safe_result


def test_a_result_with_nan_and_inf_becomes_json_with_nulls_and_a_note():
    result = {"final_loss": float("nan"), "eval": {"sw": float("inf"), "ok": 0.5, "n": np.int64(3),
                                                    "rmse": np.float32(0.25), "bad32": np.float32("-inf")},
              "curve": [1.0, float("nan"), (2.0, torch.tensor(float("inf")))], "name": "a\x00b", "flag": True,
              "none": None}
    clean = safe_result(result)
    assert clean == {"final_loss": None, "eval": {"sw": None, "ok": 0.5, "n": 3, "rmse": 0.25, "bad32": None},
                     "curve": [1.0, None, [2.0, None]], "name": "ab", "flag": True, "none": None,
                     "non_finite": ["final_loss", "eval.sw", "eval.bad32", "curve[1]", "curve[2][1]"]}
    json.dumps(clean, allow_nan=False)  # strict JSON: what jsonb stores
    assert math.isnan(result["final_loss"])  # the caller's object is not changed


def test_a_finite_result_is_unchanged_and_gets_no_note():
    result = {"a": 1.5, "b": [1, 2], "c": {"d": "x"}}
    assert safe_result(result) == result and json_safe(result) == (result, [])
    assert safe_result(None) is None


def test_check_loss_names_the_kind_and_the_step():
    assert check_loss(torch.tensor(2.5), 3) == 2.5
    with pytest.raises(Diverged, match=r"^diverged: loss is nan at step 7$"):
        check_loss(torch.tensor(float("nan")), 7)
    with pytest.raises(Diverged, match=r"^diverged: cfg loss is inf at step 2$"):
        check_loss(float("-inf"), 2, "cfg loss")


def test_check_tensors_reports_nan_before_inf_and_ignores_integer_tensors():
    check_tensors([torch.ones(3), torch.arange(4)], "the weights", "at step 1")
    with pytest.raises(Diverged, match=r"^diverged: the weights hold inf at step 5$"):
        check_tensors([torch.ones(3), torch.tensor([1.0, float("inf")])], "the weights", "at step 5")
    with pytest.raises(Diverged, match=r"^diverged: samples hold nan at step 2$"):
        check_tensors([torch.tensor([float("inf"), float("nan")])], "samples", "at step 2")
