from django.core.management.base import BaseCommand, CommandError

from loyalty.ledger_check import ledger_verify


class Command(BaseCommand):
    help = "Check the points ledger: each cached balance equals its entries; the whole sums to zero."

    def handle(self, *args, **options):
        report = ledger_verify()
        for pk, cached, computed in report.mismatches[:20]:
            self.stderr.write(f"account {pk}: cached balance {cached} != entries {computed}")
        for pk in report.sign_violations[:20]:
            self.stderr.write(f"account {pk}: balance has the wrong sign")
        summary = (f"{report.accounts} accounts, {report.entries} entries, ledger total "
                   f"{report.total}, {len(report.mismatches)} mismatches")
        if not report.ok:
            raise CommandError(f"ledger NOT consistent: {summary}")
        self.stdout.write(self.style.SUCCESS(f"ledger OK: {summary}"))
