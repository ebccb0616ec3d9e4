"""Set-based inserts for imports: COPY on PostgreSQL, ``bulk_create`` in chunks elsewhere.

Rows are dicts of attnames; every field left out gets its model default (a callable default such
as ``uuid4`` is called per row, ``auto_now_add`` gets one "now"). Never used for ledger entries:
those are written by ``loyalty.services.ledger`` only.
"""

import itertools
import os
import uuid
from collections.abc import Iterable, Iterator

from django.db import connection, models
from django.utils import timezone

from ..models import Entry

CHUNK = 2000
_UUID4_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def uuid4_strings(chunk: int = 4096) -> Iterator[str]:
    """Endless random (version 4) UUIDs as text, drawn from the OS a few thousand at a time.

    The same 122 random bits as ``uuid.uuid4()``, at a third of its cost: one ``os.urandom``
    call per chunk instead of one per customer, and no ``UUID`` object that COPY turns back
    into text anyway.
    """
    variant = _UUID4_VARIANT
    while True:
        h = os.urandom(16 * chunk).hex()
        for i in range(0, 32 * chunk, 32):
            yield (f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-"
                   f"{variant[h[i + 16]]}{h[i + 17:i + 20]}-{h[i + 20:i + 32]}")


def rows_insert(model: type[models.Model], rows: Iterable[dict]) -> None:
    """Insert ``rows`` (any iterable: a generator keeps memory flat) into ``model``'s table
    inside the caller's transaction."""
    assert model is not Entry, "ledger entries are written by loyalty.services.ledger only"
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = itertools.chain([first], rows)
    if connection.vendor != "postgresql":
        while chunk := list(itertools.islice(rows, CHUNK)):
            model.objects.bulk_create([model(**r) for r in chunk])
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Every row has the same keys (the callers build them so): fill a template of defaults once,
    # then per row only the given values and the callable defaults (uuid4) are set.
    given = first.keys()
    template: list[object] = []
    slots: list[tuple[int, str]] = []
    calls: list[tuple[int, object]] = []
    for i, f in enumerate(fields):
        if f.attname in given:
            slots.append((i, f.attname))
            template.append(None)
        elif getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            template.append(now)
        elif f.has_default() and callable(f.default):
            # uuid4 is the one callable default of the imported tables (Customer.uid): drawn in
            # bulk. Any other callable is called per row.
            default = uuid4_strings().__next__ if f.default is uuid.uuid4 else f.default
            calls.append((i, default))
            template.append(None)
        else:
            template.append(f.get_default())  # "" for a CharField without a default
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            values = template.copy()
            for i, name in slots:
                values[i] = row[name]
            for i, default in calls:
                values[i] = default()
            write(values)


def constraints_immediate() -> None:
    """Check this transaction's deferred constraints (Django's foreign keys) at each statement.

    Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, so a set-based write of 100k
    customers queues ~1M foreign-key checks and runs them one by one at COMMIT: measured, the
    COMMIT then took longer than every statement before it. Checked per statement, the same checks
    cost a fraction. Lasts until the transaction ends; a no-op on databases without the setting.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def tables_analyze(*tables: type[models.Model] | tuple[type[models.Model], list[str]]) -> None:
    """Refresh the planner's statistics of tables that just received thousands of rows.

    Without it PostgreSQL plans the next INSERT ... SELECT as if the rows were not there (a nested
    loop over a "tiny" table: minutes instead of a second for 100k customers). ANALYZE samples a
    fixed number of rows, so it stays cheap on large tables; it may run inside a transaction.
    Each table is a model, or (model, [field names]) to analyse only those columns (the row
    count is refreshed all the same, and the other columns' sorting is saved).
    """
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables:
            model, names = table if isinstance(table, tuple) else (table, None)
            columns = ""
            if names:
                columns = " (" + ", ".join(
                    quote(model._meta.get_field(n).column) for n in names) + ")"
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)}{columns}")
