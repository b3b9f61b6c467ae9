from django.db import migrations, models

# below the ORM too (raw SQL, a shell, another client): rows go in, never change or go. Row triggers do
# not fire on TRUNCATE, which stays the database owner's (and a test database flush's); nothing else
# needs an exception, as no foreign key points from the log to a row that could be deleted.
APPEND_ONLY = """
CREATE FUNCTION jobs_auditentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER jobs_auditentry_append_only BEFORE UPDATE OR DELETE ON jobs_auditentry
    FOR EACH ROW EXECUTE FUNCTION jobs_auditentry_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS jobs_auditentry_append_only ON jobs_auditentry;
DROP FUNCTION IF EXISTS jobs_auditentry_append_only();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0005_projects'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('ts', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('user_id', models.BigIntegerField(blank=True, null=True)),
                ('username', models.CharField(blank=True, max_length=150)),
                ('address', models.CharField(blank=True, max_length=64)),
                ('action', models.CharField(choices=[('create', 'Create'), ('cancel', 'Cancel'), ('retry', 'Retry'), ('delete', 'Delete'), ('download', 'Download'), ('member.add', 'Member Add'), ('member.change', 'Member Change'), ('member.remove', 'Member Remove'), ('token.create', 'Token Create'), ('token.revoke', 'Token Revoke')], max_length=32)),
                ('target', models.CharField(max_length=300)),
                ('detail', models.CharField(blank=True, max_length=300)),
                ('project_id', models.BigIntegerField(blank=True, null=True)),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-ts', '-id'],
                'indexes': [models.Index(fields=['project_id', '-ts', '-id'], name='jobs_audite_project_cb5bff_idx')],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
