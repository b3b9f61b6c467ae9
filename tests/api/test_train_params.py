"""REST and `train`'s typed branches: the schema the form reads is the union on `objective`, a DNA job gets its
branch's defaults (the ones the tests and benches run), and a field of another objective is a 400 naming it."""
import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

TASK = {"type": "dna", "length": 32, "n_data": 1000, "n_reference": 1000}


def post(api, params):
    return api.post("/api/jobs/", {"kind": "train", "params": params}, format="json")


def test_the_train_schema_is_a_union_on_objective(api):
    kinds = {k["name"]: k for k in api.get("/api/job-kinds/").json()}
    schema = kinds["train"]["params_schema"]
    assert schema["discriminator"]["propertyName"] == "objective" and len(schema["oneOf"]) == 3
    assert schema["discriminator"]["mapping"]["masked_diffusion"] == "#/$defs/MaskedDiffusionParams"
    assert schema["$defs"]["OracleParams"]["properties"]["split"]["default"] == 0


def test_a_masked_diffusion_job_stores_its_branchs_defaults(api):
    r = post(api, {"objective": "masked_diffusion", "data": TASK})
    assert r.status_code == 201, r.content
    stored = Job.objects.get().params
    # ml/dna/smoke.py and bench_drakes.py train with exactly these where they give no value
    assert {k: stored[k] for k in ("steps", "batch_size", "width", "depth", "warmup_steps", "checkpoint_every",
                                   "eval_every")} == {"steps": 1000, "batch_size": 128, "width": 64, "depth": 10,
                                                      "warmup_steps": 100, "checkpoint_every": 200, "eval_every": 0}
    assert "reflow_pairs" not in stored and "world_size" not in stored and "split" not in stored


@pytest.mark.parametrize("params, field, says", [
    ({"objective": "oracle", "data": TASK, "depth": 3}, "depth", "applies only when objective is"),
    ({"objective": "masked_diffusion", "data": TASK, "slimflow_anneal": 0.2}, "slimflow_anneal",
     "applies only when objective is slimflow (it is masked_diffusion)"),
    ({"objective": "rectified_flow", "split": 1}, "split", "applies only when objective is oracle"),
    ({"objective": "vp_eps", "distill_steps": 2}, "distill_steps", "applies only when objective is distill"),
])
def test_a_field_outside_its_objective_is_a_400_naming_it(api, params, field, says):
    r = post(api, params)
    assert r.status_code == 400, r.content
    errors = r.json()["params"]
    assert list(errors) == [field] and says in errors[field][0], errors
    assert Job.objects.count() == 0
