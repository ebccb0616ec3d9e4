"""``manage.py importcustomers FILE [--update-existing|--overwrite] [--dry-run]``.

The same import as the admin's, from a shell: columns are recognised from their headers, the
delimiter and encoding sniffed. The last line is ``imported N, updated M, skipped K, rejected R``;
the exit code is 1 when rows were rejected (their reasons are printed, or written with --rejected).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from loyalty.exceptions import LoyaltyError
from loyalty.imports.headers import FIELDS
from loyalty.imports.plan import import_plan
from loyalty.models import ImportMode
from loyalty.services.imports import import_batch_create, import_batch_run, import_plan_counts


class Command(BaseCommand):
    help = "Import customers (and opening balances) from a CSV or XLSX file."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--update-existing", action="store_true",
                            help="Fill in empty fields of customers who already exist.")
        parser.add_argument("--overwrite", action="store_true",
                            help="Overwrite fields of customers who already exist with the file's.")
        parser.add_argument("--dry-run", action="store_true", help="Check and count; write nothing.")
        parser.add_argument("--rejected", metavar="CSV",
                            help="Write rejected rows with their reasons to this file.")

    def handle(self, *args, file, update_existing, overwrite, dry_run, rejected, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        data = path.read_bytes()
        mode = (ImportMode.OVERWRITE if overwrite
                else ImportMode.FILL if update_existing else ImportMode.SKIP)
        try:
            plan = import_plan(data=data, file_name=path.name, mode=mode)
            columns = ", ".join(f"{plan.table.header[i]!r}→{FIELDS[f]}"
                                for i, f in sorted(plan.mapping.items()))
            self.stdout.write(f"{path.name}: {plan.table.encoding}, "
                              f"delimiter {plan.table.delimiter!r}; columns: {columns}")
            if dry_run:
                counts = import_plan_counts(plan=plan)
            else:
                batch = import_batch_create(data=data, file_name=path.name, mode=mode)
                batch = import_batch_run(batch_id=batch.pk)
                counts = batch
        except LoyaltyError as exc:
            raise CommandError(str(exc)) from exc
        for row in plan.rejected[:50]:
            self.stderr.write(f"line {row.line}: {'; '.join(row.errors)}")
        if len(plan.rejected) > 50:
            self.stderr.write(f"... {len(plan.rejected) - 50} more rejected rows")
        if rejected and plan.rejected:
            Path(rejected).write_text(plan.rejected_csv(), encoding="utf-8-sig")
        prefix = "dry run: " if dry_run else ""
        self.stdout.write(
            f"{prefix}imported {counts.imported}, updated {counts.updated}, "
            f"skipped {counts.skipped}, rejected {counts.rejected}"
        )
        if counts.rejected:
            raise SystemExit(1)
