from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0013_job_reserved_workers"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="devices",
            field=models.PositiveSmallIntegerField(db_default=1, default=1),
        ),
    ]
