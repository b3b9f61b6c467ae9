import pytest
import torch
from torch import nn

from ml import checkpoint, nets
from ml.finite import Diverged
from ml.modelio import load_model, save_model
from ml.quantize import Params, run
from ml.quantize.model import quantize_model
from ml.quantize.testbed import artifact_testbed, builtin_testbed
from ml.reporting import Cancelled, PrintReporter

API_KEYS = {"metric_before", "metric_after", "packed_bytes", "bits_per_weight", "layers", "metric_name",
            "fp32_bytes", "fp16_bytes", "formula_bytes", "seconds"}


def _reporter(path):
    return PrintReporter(path, stream=open("/dev/null", "w"), quiet_progress=True)


def test_digits_gptq_w4_result_artifact_and_sizes(tmp_path):
    rep = _reporter(tmp_path)
    res = run({"model": {"builtin": "digits_mlp"}, "method": "gptq", "bits": 4, "group_size": 32}, rep)
    assert API_KEYS <= set(res)
    assert res["metric_name"] == "accuracy" and res["metric_after"] > res["metric_before"] - 0.03
    # every layer's codes are a whole number of 32-bit words here, so the packed size is the formula exactly
    assert res["packed_bytes"] == res["formula_bytes"] and abs(res["bits_per_weight"] - 5.0) < 1e-9
    assert res["packed_bytes"] < res["fp16_bytes"] / 2
    kinds = {e["data"]["name"]: e["data"]["kind"] for e in rep.events if e["type"] == "artifact"}
    assert kinds["model.safetensors"] == "model" and kinds["model.json"] == "config"
    model, cfg = load_model(tmp_path)
    task = builtin_testbed("digits_mlp", "small", 0, 8)
    assert task.metric(model) == res["metric_after"]  # the saved artifact is the model that was measured
    assert cfg["quantization"]["bits"] == 4 and len(cfg["quantization"]["layers"]) == 3


def test_decoupleq_block_stage_lowers_block_error_and_skip_keeps_layers(tmp_path):
    res = run({"model": {"builtin": "digits_mlp"}, "method": "decoupleq", "bits": 2, "group_size": 64,
               "skip": ["4"], "n_calibration": 128, "decoupleq": {"max_iter": 2, "block_epochs": 3}},
              _reporter(tmp_path))
    assert [r["name"] for r in res["layers"]] == ["0", "2"]
    (stage,) = res["block_stage"]
    assert stage["mse_after"] < stage["mse_before"]
    model, _ = load_model(tmp_path)
    assert isinstance(model.get_submodule("4"), nn.Linear)


def test_model_artifact_generic_path_w8_is_nearly_lossless(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path / "src", nets.build("digits_mlp", hidden=64), {"arch": "digits_mlp", "arch_kwargs": {"hidden": 64}})
    res = run({"model": {"path": str(tmp_path / "src")}, "method": "rtn", "bits": 8, "group_size": -1},
              _reporter(tmp_path / "out"))
    assert res["metric_name"] == "relative_output_error" and res["metric_before"] == 0.0
    # int8 per-channel RTN: ~0.5 % relative error on the digits MLP; 2 % is a loose bound
    assert 0 < res["metric_after"] < 0.02


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 64), nn.SiLU(), nn.Linear(64, 2))

    def forward(self, x, t):
        return self.net(torch.cat([x, t[:, None]], 1))


def test_diffusion_artifacts_calibrate_on_noised_data_with_time():
    torch.manual_seed(0)
    cfg = {"arch": "x", "prediction": "eps", "schedule": "vp_linear", "data_shape": [2],
           "data": {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.3, 0.3], "weights": [0.5, 0.5]}}
    task = artifact_testbed(Denoiser(), cfg, 0, 64)
    x, t = task.calib[0]
    assert x.shape == (64, 2) and t.shape == (64,) and 0 < float(t.min()) and float(t.max()) <= 1
    assert task.metric_name == "fd"
    rows = quantize_model(task.model, task.calib, "gptq", 4, -1)
    assert len(rows) == 2 and 0 < task.extra["relative_output_error"](task.model) < 0.2


def test_params_schema_is_json_schema_with_safe_defaults():
    schema = Params.model_json_schema()
    assert schema["properties"]["method"]["default"] == "gptq"
    p = Params()
    assert p.model.builtin == "digits_mlp" and p.model.size == "small"


class StopAfter(PrintReporter):
    """Asks to stop once `n` layers are done, like a user pressing cancel mid-job."""

    def __init__(self, path, n, attempt=1):
        super().__init__(path, stream=open("/dev/null", "w"), quiet_progress=True, attempt=attempt)
        self.n = n

    def should_stop(self):
        return sum(e["type"] == "progress" for e in self.events) >= self.n


def test_cancelled_job_resumes_from_its_layer_checkpoint_with_identical_result(tmp_path):
    params = {"model": {"builtin": "digits_mlp"}, "method": "gptq", "bits": 3, "group_size": 32}
    with pytest.raises(Cancelled):
        run(params, StopAfter(tmp_path / "job", 2))
    # stopped between layers: the weights after layer 2 and their rows are one step (ml/checkpoint.py)
    kept = checkpoint.load(tmp_path / "job" / "checkpoint")
    assert kept.step == 2 and [r["name"] for r in kept.meta["rows"]] == ["0", "2"]
    assert not (tmp_path / "job" / "model.safetensors").exists()
    second = StopAfter(tmp_path / "job", 10 ** 9, attempt=2)
    resumed = run(params, second)
    assert any("resumed from layer 2, attempt 2" in e["data"].get("text", "") for e in second.events)
    fresh = run(params, _reporter(tmp_path / "fresh"))
    a, b = load_model(tmp_path / "job")[0].state_dict(), load_model(tmp_path / "fresh")[0].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the checkpoint holds the exact packed tensors, and calibration is seeded: nothing may differ
    assert resumed["metric_after"] == fresh["metric_after"]
    assert [r["name"] for r in resumed["layers"]] == [r["name"] for r in fresh["layers"]]
    assert [r["rel_error"] for r in resumed["layers"]] == [r["rel_error"] for r in fresh["layers"]]


def test_int8_matmul_model_keeps_accuracy_and_reloads_on_the_integer_path(tmp_path):
    res = run({"model": {"builtin": "digits_mlp"}, "method": "rtn", "bits": 8, "group_size": -1, "symmetric": True,
               "int8_matmul": True}, _reporter(tmp_path))
    # int8 weights and per-token int8 activations: ~1 % output error, at most a few of 540 test digits flip
    assert res["metric_after"] >= res["metric_before"] - 0.01
    model, cfg = load_model(tmp_path)
    assert all(model.get_submodule(n).int8_matmul for n in cfg["quantization"]["layers"])


def test_a_model_that_already_scores_nan_is_refused_before_quantizing(tmp_path, blown_up_flow):
    rep = _reporter(tmp_path)
    with pytest.raises(Diverged, match=r"^diverged: fd of the model to quantize is nan before quantization$"):
        run({"model": {"path": str(blown_up_flow)}, "method": "rtn", "bits": 4}, rep)
    assert not [e for e in rep.events if e["type"] == "artifact"] and not (tmp_path / "checkpoint").exists()


def test_weights_gone_non_finite_are_never_saved_as_a_model(tmp_path):
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.bias[1] = float("nan")
    with pytest.raises(Diverged, match=r"^diverged: the model's weights hold nan \(the model is not saved\)$"):
        save_model(tmp_path / "m", net, {"arch": "linear", "arch_kwargs": {}})
    assert not (tmp_path / "m").exists()
