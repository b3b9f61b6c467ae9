"""Job folders named by a storage key that never repeats, bytes stored per job, lineage of deleted inputs.

Existing rows get distinct random keys and their folders move from `jobs/<id>/` to `jobs/<key>/`
(artifact paths follow). The folders move after every row is updated, and the id -> key map is
written first to `jobs/.storage-keys-0002.json`: should the commit still fail,
running the migration again reuses those keys for the folders already moved instead of orphaning them.
Moved folders carry no params record, so a queued job among them starts fresh rather than resuming
a folder it cannot prove is its own (a database reset before this migration leaves such folders).
"""
import json
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.db import migrations, models

MAP_FILE = ".storage-keys-0002.json"


def _root() -> Path:
    return Path(settings.MEDIA_ROOT) / "jobs"


def assign_keys(apps, schema_editor):
    from jobs.storage import folder_bytes

    Job, Artifact = apps.get_model("jobs", "Job"), apps.get_model("jobs", "Artifact")
    root = _root()
    earlier = {}
    if (root / MAP_FILE).is_file():
        earlier = json.loads((root / MAP_FILE).read_text())
    keys = {}
    for job_id in Job.objects.order_by("pk").values_list("pk", flat=True):
        again = earlier.get(str(job_id))
        moved = again and not (root / str(job_id)).exists() and (root / again).is_dir()
        keys[job_id] = uuid.UUID(again) if moved else uuid.uuid4()
    if not keys:
        return
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / (MAP_FILE + ".tmp")
    tmp.write_text(json.dumps({str(k): str(v) for k, v in keys.items()}))
    os.replace(tmp, root / MAP_FILE)
    for job_id, key in keys.items():
        Job.objects.filter(pk=job_id).update(storage_key=key)
        for art in Artifact.objects.filter(job_id=job_id, file__startswith=f"jobs/{job_id}/"):
            art.file = f"jobs/{key}/" + art.file.name[len(f"jobs/{job_id}/"):]
            art.save(update_fields=["file"])
    for job in Job.objects.only("pk", "storage_key"):
        old, new = root / str(job.pk), root / str(job.storage_key)
        if old.is_dir() and not new.exists():
            os.replace(old, new)
        Job.objects.filter(pk=job.pk).update(bytes_stored=folder_bytes(new))
    _check_constraints_now(schema_editor)


def _check_constraints_now(schema_editor):
    # the artifact updates queue deferred foreign-key checks, and PostgreSQL refuses the ALTER TABLE
    # that follows while any are pending
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def move_back(apps, schema_editor):
    Job, Artifact = apps.get_model("jobs", "Job"), apps.get_model("jobs", "Artifact")
    root = _root()
    for job in Job.objects.only("pk", "storage_key"):
        old, new = root / str(job.pk), root / str(job.storage_key)
        if new.is_dir() and not old.exists():
            os.replace(new, old)
        for art in Artifact.objects.filter(job_id=job.pk, file__startswith=f"jobs/{job.storage_key}/"):
            art.file = f"jobs/{job.pk}/" + art.file.name[len(f"jobs/{job.storage_key}/"):]
            art.save(update_fields=["file"])
    _check_constraints_now(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="job", name="storage_key", field=models.UUIDField(null=True)),
        migrations.AddField(model_name="job", name="bytes_stored",
                            field=models.PositiveBigIntegerField(default=0, db_default=0)),
        migrations.AddField(model_name="job", name="deleted_inputs",
                            field=models.JSONField(blank=True, default=list,
                                                   db_default=models.Value([], models.JSONField()))),
        migrations.RunPython(assign_keys, move_back),
        migrations.AlterField(model_name="job", name="storage_key",
                              field=models.UUIDField(default=uuid.uuid4, db_default=RandomUUID(), editable=False,
                                                     unique=True)),
    ]
