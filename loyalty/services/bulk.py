"""Set-based inserts for imports: COPY on PostgreSQL, ``bulk_create`` in chunks elsewhere.

Rows are dicts of attnames; every field left out gets its model default (a callable default such
as ``uuid4`` is called per row, ``auto_now_add`` gets one "now"). Never used for ledger entries:
those are written by ``loyalty.services.ledger`` only.
"""

from django.db import connection, models
from django.utils import timezone

from ..models import Entry

CHUNK = 2000


def rows_insert(model: type[models.Model], rows: list[dict]) -> None:
    """Insert ``rows`` into ``model``'s table inside the caller's transaction."""
    assert model is not Entry, "ledger entries are written by loyalty.services.ledger only"
    if not rows:
        return
    if connection.vendor != "postgresql":
        for start in range(0, len(rows), CHUNK):
            model.objects.bulk_create([model(**r) for r in rows[start:start + CHUNK]])
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Every row has the same keys (the callers build them so): fill a template of defaults once,
    # then per row only the given values and the callable defaults (uuid4) are set.
    given = rows[0].keys()
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
            calls.append((i, f.default))
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
