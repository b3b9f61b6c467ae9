import django.db.models.deletion
from django.db import migrations, models


def fill_personal_projects(apps, schema_editor):
    """Jobs stored between 0005 and this one without a project (raw inserts) join their owner's personal one."""
    Job, Project, Membership = (apps.get_model("jobs", n) for n in ("Job", "Project", "Membership"))
    for owner_id in Job.objects.filter(project__isnull=True).values_list("owner_id", flat=True).distinct():
        owner = Job._meta.get_field("owner").related_model.objects.get(pk=owner_id)
        project, _ = Project.objects.get_or_create(personal_of=owner, defaults={"name": owner.username})
        Membership.objects.get_or_create(project=project, user=owner, defaults={"role": "admin"})
        Job.objects.filter(owner_id=owner_id, project__isnull=True).update(project=project)


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0007_merge_0006_audit_0006_tokens"),
    ]

    operations = [
        migrations.RunPython(fill_personal_projects, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="job",
            name="project",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="jobs",
                                    to="jobs.project"),
        ),
        migrations.AddIndex(model_name="job", index=models.Index(fields=["project", "-created_at"],
                                                                 name="jobs_job_project_8a1f0c_idx")),
        migrations.AddIndex(model_name="job", index=models.Index(fields=["project", "status", "-created_at"],
                                                                 name="jobs_job_project_5c2e7d_idx")),
    ]
