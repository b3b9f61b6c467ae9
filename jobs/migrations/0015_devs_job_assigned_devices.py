from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0014_job_devices"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="assigned_devices",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
