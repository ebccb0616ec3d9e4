"""Run the nightly jobs in-process: ``manage.py runcampaigns [--date YYYY-MM-DD] [--only NAME]``.

For the embedded default (no Celery worker) and for tests. Prints ``NAME: N`` per job, N being the
customers it touched; a second run for the same date prints 0 for each. Then runs the other apps'
clean-ups (``HOUSEKEEPING``, e.g. ``phonechecks``: N rows deleted), which ignore ``--date``.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.jobs import HOUSEKEEPING, JOBS, job_run


class Command(BaseCommand):
    help = ("Run the campaigns' nightly jobs (birthday, winback, expiry, deferred, tiers) for a date, "
            "then the other apps' clean-ups (phonechecks).")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the as-of date, YYYY-MM-DD (default: today)")
        parser.add_argument("--only", choices=[*JOBS, *HOUSEKEEPING], help="run only this job")

    def handle(self, *args, **options):
        try:
            as_of = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        names = [options["only"]] if options["only"] else [*JOBS, *HOUSEKEEPING]
        for name in names:
            if name in HOUSEKEEPING:
                self.stdout.write(f"{name}: {HOUSEKEEPING[name]()}")
            else:
                self.stdout.write(f"{name}: {job_run(job=name, as_of=as_of)}")
