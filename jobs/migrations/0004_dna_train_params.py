"""Stored params of DNA training jobs keep only the fields of their typed branch.

Until the train params became typed branches, a `masked_diffusion` or `oracle` job's stored params carried
every field of the continuous objectives too (`arch`, `world_size`, `slimflow_*`, ...), which it never read.
The branches refuse them, so a retry of such a job would answer 400; dropping them keeps what the job ran
with. The lists are the branches' fields as this migration was written (a migration never imports code that
may change).
"""
from django.db import migrations

SHARED = {"seed", "device", "data", "objective", "steps", "batch_size", "lr", "optimizer", "weight_decay", "model",
          "width", "warmup_steps", "ema_decay", "grad_clip", "checkpoint_every", "eval_every", "log_every"}
KEEP = {"masked_diffusion": SHARED | {"depth"}, "oracle": (SHARED - {"ema_decay"}) | {"split"}}


def keep_branch_fields(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    for job in Job.objects.filter(kind="train", params__objective__in=list(KEEP)).only("pk", "params").iterator():
        kept = {k: v for k, v in job.params.items() if k in KEEP[job.params["objective"]]}
        if kept != job.params:
            Job.objects.filter(pk=job.pk).update(params=kept)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_merge")]
    operations = [migrations.RunPython(keep_branch_fields, migrations.RunPython.noop)]
