from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.retention import collect, jobs_root


class Command(BaseCommand):
    help = ("Apply the retention policy now: remove job folders no job owns and the checkpoints finished jobs "
            "no longer keep (LAB_RETENTION_KEEP_CHECKPOINTS, LAB_RETENTION_CHECKPOINT_DAYS), and measure what "
            "each finished job stores; with an object store, also expired chunked uploads and chunks no upload owns. "
            "Workers do the same every LAB_GC_SECONDS.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")

    def handle(self, *args, dry_run=False, **options):
        report = collect(dry_run=dry_run)
        root = jobs_root()
        verb = "would remove" if dry_run else "removed"
        for r in report.removed:
            # an object's key is already relative to the store's jobs/, or an upload's uploads/<guid> (jobs/storegc.py)
            where = r.path.relative_to(root) if r.path.is_absolute() else r.path
            self.stdout.write(f"{verb} {where} ({r.bytes} bytes): {r.why}")
        self.stdout.write(f"{verb} {len(report.removed)} folders, {report.bytes} bytes"
                          f" (keeping {settings.LAB_RETENTION_KEEP_CHECKPOINTS} checkpoints per finished job)")
        if report.measured:
            self.stdout.write(f"measured again the storage of {len(report.measured)} jobs")
