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
    getters = []
    for f in fields:
        if getattr(f, "auto_now_add", False) or getattr(f, "auto_now", False):
            getters.append((f.attname, False, now))
        elif f.has_default() and callable(f.default):
            getters.append((f.attname, True, f.default))
        else:
            getters.append((f.attname, False, f.get_default()))  # "" for a CharField without one
    sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([
                row[name] if name in row else (default() if is_callable else default)
                for name, is_callable, default in getters
            ])
