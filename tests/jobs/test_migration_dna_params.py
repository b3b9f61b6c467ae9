"""Migration 0004: a DNA training job stored with the continuous objectives' fields can be retried."""
from __future__ import annotations

import pytest

from ml.train.params import Params

from tests.helpers import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("jobs", "0003_merge")], [("jobs", "0004_dna_train_params")]

# what the API stored for a masked_diffusion job before the train params had typed branches
OLD_MASKED = {"seed": 0, "device": "auto", "data": {"type": "dna", "length": 200}, "objective": "masked_diffusion",
              "steps": 500, "batch_size": 256, "lr": 0.001, "optimizer": "adamw", "weight_decay": 0.0, "split": 0,
              "arch": "auto", "width": 256, "depth": 3, "warmup_steps": 50, "ema_decay": 0.999, "grad_clip": 1.0,
              "checkpoint_every": 250, "eval_every": 250, "log_every": 10, "timesteps": "uniform", "loss": "l2",
              "init_from_teacher": True, "distill_steps": 1, "reflow_pairs": 4096, "teacher_nfe": 64,
              "teacher_sampler": "auto", "slimflow_anneal": 0.5, "slimflow_guidance": 1.0, "eval_samples": 1000,
              "ref_nfe": 500, "world_size": 1}



def test_old_dna_params_keep_their_values_and_validate_again(user):
    with pytest.raises(Exception, match="arch"):
        Params.model_validate(OLD_MASKED)
    old = migrate(BEFORE)
    Job = old.get_model("jobs", "Job")
    oracle = dict(OLD_MASKED, objective="oracle", split=1)
    flow = dict(OLD_MASKED, objective="rectified_flow", data={"type": "moons"})
    jobs = [Job.objects.create(owner_id=user.pk, kind="train", status="succeeded", params=p)
            for p in (OLD_MASKED, oracle, flow)]
    try:
        new = migrate(AFTER)
        rows = {j.pk: j.params for j in new.get_model("jobs", "Job").objects.filter(pk__in=[j.pk for j in jobs])}
        masked, orc, cont = (rows[j.pk] for j in jobs)
        assert (masked["width"], masked["depth"], masked["steps"]) == (256, 3, 500)  # what it ran with
        assert "arch" not in masked and "split" not in masked and orc["split"] == 1 and "depth" not in orc
        assert cont == flow  # a continuous job is not touched
        for params in (masked, orc):
            assert Params.model_validate(params).model_dump(mode="json")["width"] == 256
    finally:
        migrate()
