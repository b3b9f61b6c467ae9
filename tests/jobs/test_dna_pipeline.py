"""The DRAKES pipeline as jobs and artifacts (docs/kinds/train.md, docs/kinds/finetune.md): `train`
masked_diffusion -> `train` oracle on split 0 and on split 1 -> `finetune` with those three -> `sample` and
`quantize` of the fine-tuned model. Wiring, not quality: tiny steps (the quality claims are tested in
tests/ml/finetune and benchmarked)."""
import numpy as np
import pytest

from jobs.models import Artifact, Job
from tests.helpers import submit, succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

TASK = {"type": "dna", "length": 32, "motifs": ["TGACTC", "GATAAG", "TTGCGC", "TGTTTA"], "n_data": 1000,
        "n_reference": 1000, "seed": 0}


def model_id(job_id):
    return Artifact.objects.get(job_id=job_id, kind="model").pk


def test_pretrain_oracles_finetune_and_sample_are_linked_jobs(celery_worker, api):
    tiny = {"data": TASK, "batch_size": 32, "width": 16, "steps": 30, "checkpoint_every": 30, "eval_every": 30}
    mdlm = submit(api, "train", {**tiny, "objective": "masked_diffusion", "depth": 2})
    oracles = [submit(api, "train", {**tiny, "objective": "oracle", "split": s, "seed": s}) for s in (0, 1)]
    for job_id in (mdlm, *oracles):
        succeeded(job_id)
    inputs = {"model": {"artifact": model_id(mdlm)}, "reward": {"artifact": model_id(oracles[0])},
              "eval_reward": {"artifact": model_id(oracles[1])}}
    ft = succeeded(submit(api, "finetune", {**inputs, "method": "drakes", "steps": 2, "sampling_steps": 8,
                                            "truncate_steps": 4, "batch_size": 4, "grad_accum": 1,
                                            "eval_every": 0, "n_samples": 16}))
    for key in ("pred_activity_median", "true_activity_median", "accessibility_acc", "kmer_corr",
                "log_likelihood_pretrained", "log_likelihood_exact", "diversity", "oracle_calls"):
        assert key in ft.result, key
    assert sorted(ft.input_artifacts.values_list("id", flat=True)) == sorted(
        [model_id(mdlm), model_id(oracles[0]), model_id(oracles[1])])

    # the fine-tuned model is a masked-diffusion model that `sample` can use
    sample = succeeded(submit(api, "sample", {"model": {"artifact": model_id(ft.pk)}, "nfe": 8, "n_samples": 8}))
    tokens = np.load(Artifact.objects.get(job_id=sample.pk, name="samples.npy").file.open("rb"))
    assert tokens.shape == (8, 32) and tokens.min() >= 0 and tokens.max() <= 3
    assert Job.objects.get(pk=sample.pk).input_artifacts.get().job_id == ft.pk

    # `quantize` finds the eval oracle in the fine-tuned model's lineage and scores paired samples with it
    quant = succeeded(submit(api, "quantize", {"model": {"artifact": model_id(ft.pk)}, "method": "rtn", "bits": 8,
                                               "group_size": -1, "n_samples": 16, "sampling_steps": 8}))
    assert quant.result["metric_name"] == "pred_activity_median"
    assert "log_likelihood_exact" in quant.result["extra_metrics"]
