from django.db import migrations, models


class Migration(migrations.Migration):
    """Job.sent_at, the outbox's mark. Jobs queued before it are null: the first sweep sends them again,
    which rescues any a lost publish stranded (a duplicate is refused by the claim)."""

    dependencies = [("jobs", "0001_initial")]

    operations = [
        migrations.AddField(model_name="job", name="sent_at", field=models.DateTimeField(blank=True, null=True)),
    ]
