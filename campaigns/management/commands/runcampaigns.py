"""Run the nightly jobs in-process: ``manage.py runcampaigns [--date YYYY-MM-DD] [--only NAME]``.

For the embedded default (no Celery worker) and for tests. Prints ``NAME: N`` per job, N being the
customers it touched; a second run for the same date prints 0 for each.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.jobs import JOBS, job_run


class Command(BaseCommand):
    help = "Run the campaigns' nightly jobs (birthday, winback, expiry, deferred, tiers) for a date."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the as-of date, YYYY-MM-DD (default: today)")
        parser.add_argument("--only", choices=list(JOBS), help="run only this job")

    def handle(self, *args, **options):
        try:
            as_of = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        for name in [options["only"]] if options["only"] else JOBS:
            self.stdout.write(f"{name}: {job_run(job=name, as_of=as_of)}")
