"""A whole file read, checked and sorted against the database — the preview, the dry run and the
input of the write are the same ``ImportPlan``.

Reads only: which phones already belong to customers (chunked ``IN`` queries) and the tiers.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Customer, ImportMode, Tier
from .headers import mapping_from_names, mapping_guess
from .reader import ImportFileError, Table, iter_cells, read_table
from .rows import RowData, RowReader

CHUNK = 5000
Progress = Callable[[int, int], None]


@dataclass
class ImportPlan:
    table: Table
    mapping: dict[int, str]
    mode: str
    new: list[RowData] = field(default_factory=list)
    existing: list[tuple[RowData, int]] = field(default_factory=list)  # (row, customer id)
    rejected: list[RowData] = field(default_factory=list)
    with_warnings: list[RowData] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return len(self.new) + len(self.existing) + len(self.rejected)

    @property
    def skipped_count(self) -> int:
        return len(self.existing) if self.mode == ImportMode.SKIP else 0

    def problems(self, limit: int = 200) -> list[RowData]:
        """Rows with an error or a warning, in file order (the preview's list)."""
        rows = sorted({id(r): r for r in [*self.rejected, *self.with_warnings]}.values(),
                      key=lambda r: r.line)
        return rows[:limit]

    def rejected_csv(self) -> str:
        """The rejected rows as they were in the file, plus the line number and the reasons."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow([_("line"), *self.table.header, _("reason")])
        for row in self.rejected:
            cells = [c.isoformat() if isinstance(c, date | datetime) else c for c in row.cells or []]
            writer.writerow([row.line, *cells, "; ".join(row.errors)])
        return out.getvalue()


def tiers_by_name() -> dict[str, int]:
    return {name.lower(): pk for pk, name in Tier.objects.values_list("pk", "name")}


def existing_customer_ids(phones: list[str]) -> dict[str, int]:
    """phone → customer id for the phones that belong to (open) customers."""
    found: dict[str, int] = {}
    if connection.vendor == "postgresql" and phones:
        # One array parameter instead of thousands of IN placeholders: planned once, ~10× faster.
        table = Customer._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT phone, id FROM {table} WHERE phone = ANY(%s)",  # noqa: S608 - table from _meta
                           [phones])
            return dict(cursor.fetchall())
    for start in range(0, len(phones), CHUNK):
        found.update(
            Customer.objects.filter(phone__in=phones[start:start + CHUNK]).values_list("phone", "pk")
        )
    return found


def import_plan(
    *,
    data: bytes,
    file_name: str = "",
    mapping_by_name: dict[str, str] | None = None,
    mode: str = ImportMode.SKIP,
    progress: Progress | None = None,
    total_rows: int | None = None,
) -> ImportPlan:
    """Read ``data`` and sort its rows; raises ``ImportFileError`` for an unreadable file.

    ``progress(done, total)`` is called every ``CHUNK`` rows; ``total`` is ``total_rows`` when the
    caller knows it (a batch counted its rows on upload), else counted here first.
    """
    table = read_table(data, file_name)
    mapping = (mapping_from_names(table.header, mapping_by_name) if mapping_by_name
               else mapping_guess(table.header))
    if "phone" not in mapping.values():
        raise ImportFileError(gettext_lazy("No phone column: name one column “Phone” (Телефон)."))
    plan = ImportPlan(table=table, mapping=mapping, mode=mode)
    reader = RowReader(mapping, tiers=tiers_by_name(), today=timezone.localdate())
    duplicate = _("duplicate: the same phone is on line %(line)d")
    seen: dict[str, int] = {}
    valid: list[RowData] = []
    total = 0
    if progress is not None:
        total = table.row_count() if total_rows is None else total_rows
    for done, (line, cells) in enumerate(iter_cells(table), start=1):
        row = reader.read(line, cells)
        if not row.errors:
            first = seen.get(row.phone)
            if first is not None:
                row.error(duplicate % {"line": first})
                row.cells = cells
            else:
                seen[row.phone] = line
        if row.errors:
            plan.rejected.append(row)
        else:
            valid.append(row)
            if row.warnings:
                plan.with_warnings.append(row)
        if progress is not None and done % CHUNK == 0:
            progress(done, total)
    existing = existing_customer_ids([r.phone for r in valid])
    already = _("already a customer")
    for row in valid:
        customer_id = existing.get(row.phone)
        if customer_id is None:
            plan.new.append(row)
        else:
            row.warn(already)
            plan.existing.append((row, customer_id))
            if len(row.warnings) == 1:
                plan.with_warnings.append(row)
    return plan
