"""Admission (jobs/admission.py): a job whose estimated memory, processes or files are over the
worker's limits is a 400 that names the fields and the estimate; a big job that fits still runs."""
import pytest

from jobs.models import Job

pytestmark = pytest.mark.django_db

K, D = 32, 4096
WIDE_MIXTURE = {"type": "gmm", "means": [[0.0] * D] * K, "stds": [1.0] * K, "weights": [1.0] * K}


def post(api, kind, params):
    return api.post("/api/jobs/", {"kind": kind, "params": params}, format="json")


def test_a_sample_job_no_worker_holds_is_a_400_with_its_estimate(api):
    r = post(api, "sample", {"model": WIDE_MIXTURE, "n_samples": 50_000})
    assert r.status_code == 400, r.content
    body = r.json()
    # 16 n d (noise, chunks, their concatenation and copy) + 24 b K d (float64 working tensors)
    # + 64 b d (solver state) + 1 GB runtime, with b = batch_size 50,000 (its default)
    expected = 16 * 50_000 * D + 24 * 50_000 * K * D + 64 * 50_000 * D + 10**9
    assert body["estimate"] == {"memory_bytes": expected, "processes": 1, "files": 2,
                                "fields": ["batch_size", "model.means"]}
    assert body["params"] == [
        "needs about 175 GB of memory on the worker ((n_samples 50000 x dim 4096 x 16 bytes) + (batch 50000 x "
        "components 32 x dim 4096 x 8 bytes x 3 working copies) + (batch 50000 x dim 4096 x 8 bytes x 8 solver "
        "states) + 1 GB runtime), the limit is 64 GB; lower batch_size or model.means"]
    assert Job.objects.count() == 0


def test_the_same_sample_job_in_smaller_chunks_is_accepted(api):
    # 1000 at a time: 3.1 GB of working tensors, 7.7 GB in all, 50 checkpoint chunks
    r = post(api, "sample", {"model": WIDE_MIXTURE, "n_samples": 50_000, "batch_size": 1000})
    assert r.status_code == 201, r.content
    assert Job.objects.get().params["batch_size"] == 1000


def test_a_train_job_with_64_processes_on_a_cpu_is_a_400_naming_world_size(api):
    r = post(api, "train", {"world_size": 64, "device": "cpu", "batch_size": 256})
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["estimate"]["processes"] == 64
    assert "world_size" in body["estimate"]["fields"]
    assert "needs 64 processes on the worker (world_size 64), the limit is 8; lower world_size" in body["params"]
    assert Job.objects.count() == 0


def test_a_train_job_on_all_gpus_of_a_node_is_accepted(api):
    r = post(api, "train", {"world_size": 8, "batch_size": 256})
    assert r.status_code == 201, r.content


def test_a_sample_job_writing_a_checkpoint_per_sample_is_a_400_counting_files(api):
    r = post(api, "sample", {"n_samples": 200_000, "batch_size": 1})
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["estimate"]["files"] == 400_003 and body["estimate"]["fields"] == ["n_samples", "batch_size"]
    assert body["params"] == ["writes about 400003 files (samples and plot + 2 x (n_samples 200000 / batch_size 1 = "
                              "200000 checkpoint chunks) + 1), the limit is 10000; lower n_samples or batch_size"]


def test_a_finetune_graph_no_worker_holds_is_a_400_naming_batch_and_truncation(api):
    r = post(api, "finetune", {"model": {"artifact": 1}, "reward": {"artifact": 1}, "eval_reward": {"artifact": 1},
                               "batch_size": 1024, "truncate_steps": 1024})
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["fields"] == ["batch_size", "truncate_steps"]  # not n_samples: its term is small


def test_limits_come_from_settings(api, settings):
    settings.LAB_ADMIT_MAX_PROCESSES = 1
    r = post(api, "train", {"world_size": 2})
    assert r.status_code == 400, r.content
    assert "needs 2 processes on the worker (world_size 2), the limit is 1; lower world_size" in r.json()["params"]


def test_retry_goes_through_admission(api, make_job, settings):
    old = make_job("sample", {"n_samples": 1000})
    settings.LAB_ADMIT_MAX_MEMORY_BYTES = 10**8  # below the 1 GB runtime: nothing fits any more
    r = api.post(f"/api/jobs/{old.id}/retry/")
    assert r.status_code == 400, r.content
    assert r.json()["estimate"]["memory_bytes"] == 10**9 + 16 * 1000 * 2 + 24 * 1000 * 6 * 2 + 64 * 1000 * 2
    assert Job.objects.count() == 1


REF = {"artifact": 1}
# configs the README, the bench and other tests run (each names where it comes from): all must still fit
USED_CONFIGS = [
    ("sample", {"sampler": "dpm_solver_pp_2m", "nfe": 10, "n_samples": 2000}),  # README
    ("sample", {"nfe": 1000, "n_samples": 200000, "batch_size": 100, "device": "cpu"}),  # browser LONG_JOB
    ("sample", {"model": {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5],
                          "weights": [0.5, 0.5]}, "sampler": "ddim", "nfe": 1000, "n_samples": 200000}),  # tests/ws
    ("train", {"data": {"type": "moons"}, "steps": 100_000, "batch_size": 32, "width": 16, "depth": 1,
               "checkpoint_every": 25, "eval_every": 20, "eval_samples": 64}),  # test_train_faults
    ("train", {"data": {"type": "digits"}, "arch": "mlp", "width": 512, "depth": 3, "batch_size": 256,
               "objective": "reflow", "reflow_pairs": 8192, "teacher_nfe": 63, "steps": 6000,
               "eval_every": 10**6, "model": REF}),  # bench_train quality
    ("train", {"data": {"type": "dna", "length": 200, "n_data": 20000, "n_reference": 20000},
               "objective": "masked_diffusion", "steps": 3000, "batch_size": 128, "width": 64, "depth": 10}),  # bench_drakes
    ("finetune", {"model": REF, "reward": REF, "eval_reward": REF, "sampling_steps": 64, "truncate_steps": 25,
                  "batch_size": 32, "grad_accum": 1, "n_samples": 640, "eval_every": 0,
                  "checkpoint_every": 0}),  # bench_drakes standard, as its DRAKES runs get it (ml.params.applicable)
    ("finetune", {"model": REF, "reward": REF, "eval_reward": REF}),  # the defaults (the paper's 32 x 50)
    ("quantize", {"model": {"builtin": "char_transformer", "size": "full"}, "method": "decoupleq", "bits": 2}),
]


@pytest.mark.parametrize("kind, params", USED_CONFIGS)
def test_configs_in_use_are_admitted(kind, params):
    from jobs.admission import refusal
    from jobs.registry import get_kind

    k = get_kind(kind)
    assert refusal(k, k.params.model_validate(params)) is None
