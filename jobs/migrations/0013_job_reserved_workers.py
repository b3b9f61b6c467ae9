from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0012_merge_scheduling"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="reserved_workers",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
