"""Migrations 0005 and 0008: every existing job moves into its owner's personal project (its admin), and a
job's project is required from then on; running them back leaves the jobs as they were."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from tests.helpers import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("jobs", "0004_dna_train_params")], [("jobs", "0008_job_project_required")]



def test_existing_jobs_move_into_their_owners_personal_projects(user, other_user):
    idle = get_user_model().objects.create_user("carol", password="pw")
    old = migrate(BEFORE)
    Job = old.get_model("jobs", "Job")
    alices = [Job.objects.create(owner_id=user.pk, kind="train", status="succeeded") for _ in range(3)]
    bobs = [Job.objects.create(owner_id=other_user.pk, kind="sample", status="failed")]
    try:
        new = migrate(AFTER)
        Job, Project, Membership = (new.get_model("jobs", n) for n in ("Job", "Project", "Membership"))
        for owner, jobs in ((user, alices), (other_user, bobs)):
            project = Project.objects.get(personal_of_id=owner.pk)
            assert project.name == owner.username
            assert set(Job.objects.filter(project=project).values_list("id", flat=True)) == {j.pk for j in jobs}
            assert list(Membership.objects.filter(project=project).values_list("user_id", "role")) == [
                (owner.pk, "admin")]
        assert not Project.objects.filter(personal_of_id=idle.pk).exists()  # made at their first login
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("INSERT INTO jobs_job (owner_id, name, kind, params, status, progress, error, attempts,"
                        " max_attempts, queue, worker, cancel_requested, last_seq, created_at) VALUES"
                        " (%s, '', 'sample', '{}', 'queued', 0, '', 0, 3, 'gpu', '', false, 0, now())", [user.pk])

        old = migrate(BEFORE)
        assert old.get_model("jobs", "Job").objects.filter(owner_id=user.pk).count() == 3
    finally:
        migrate()
