"""Model rows by hand-written SQL, for the sale's hot path.

A sale runs seven statements. Built through the ORM, composing them cost several times what
PostgreSQL needs to execute them (``bench/purchase.py``: Django compiling queries and building
instances was most of a sale's CPU). These helpers keep what the ORM gives that matters for
correctness, and drop the per-call query building:

- the SQL text of each shape is built once (from the models' ``_meta``) and cached;
- values go through each field's ``get_db_prep_save`` on the way in and its database converters on
  the way out, exactly as the ORM does, so the same code is right on PostgreSQL and on SQLite (the
  embedded default), where decimals, booleans and datetimes need converting;
- rows come back as real model instances (what ``Model.from_db`` makes; built directly when every
  column is a plain attribute and nobody listens to ``pre_init``/``post_init``), and an insert
  sends ``post_save`` like ``Model.save()`` does, so listeners (webhooks) see every row.

Only plain single-table INSERTs and SELECTs with a fixed column list live here; the statements
themselves stay next to the code that owns them (``loyalty.locks``, ``loyalty.services.ledger``).
"""

import inspect
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, post_save, pre_init


def db():
    """This thread's default connection itself. ``django.db.connection`` is a proxy that looks the
    connection up on every attribute access; resolved once per call here, that saves a few dozen
    lookups per sale."""
    return connections[DEFAULT_DB_ALIAS]


def quote(name: str) -> str:
    return db().ops.quote_name(name)


@cache
def concrete_fields(model: type[Model]) -> tuple:
    return tuple(model._meta.concrete_fields)


def columns(model: type[Model], alias: str, *, when: str | None = None) -> str:
    """``alias."col", ...`` for every concrete field of ``model``, in ``_meta`` order; with ``when``
    (an SQL condition), each is ``CASE WHEN <when> THEN alias."col" END``: NULL on the rows where
    it does not hold, so a joined row repeated on several result rows is sent and decoded once."""
    cols = (f"{alias}.{quote(f.column)}" for f in concrete_fields(model))
    if when is not None:
        cols = (f"CASE WHEN {when} THEN {col} END" for col in cols)
    return ", ".join(cols)


@cache
def _converters(model: type[Model], vendor: str) -> tuple | None:
    """Each column's database converters, or None when no column of ``model`` has any (the usual
    case on PostgreSQL, whose driver already hands back Decimals, datetimes and booleans)."""
    connection = db()
    result = []
    for field in concrete_fields(model):
        col = field.get_col(model._meta.db_table)
        funcs = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        result.append((col, tuple(funcs)))
    return tuple(result) if any(funcs for _col, funcs in result) else None


def instance(model: type[Model], values: Sequence, connection=None) -> Model:
    """A ``model`` instance from a row of ``columns(model, ...)`` values, converted as the ORM does.

    ``connection``: ``db()``, if the caller already has it (it saves a lookup per row)."""
    connection = connection or db()
    converters = _converters(model, connection.vendor)
    if converters is not None:
        converted = []
        for value, (col, funcs) in zip(values, converters, strict=True):
            for func in funcs:
                value = func(value, col, connection)
            converted.append(value)
        values = converted
    attnames = _plain_attnames(model)
    if attnames is None or _init_listened(model):
        return model.from_db(connection.alias, None, values)
    # What ``from_db`` ends with, without ``Model.__init__`` walking the fields one setattr at a
    # time (a sale builds a dozen instances, a referral chain's two dozen).
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values, strict=True))
    state = obj._state = ModelState()
    state.adding, state.db = False, connection.alias
    return obj


def partial_instance(model: type[Model], attnames: Sequence[str], values: Sequence,
                     connection=None) -> Model:
    """A ``model`` instance holding only ``attnames`` (values already converted); its other
    fields are deferred, loaded by Django on first access, as ``QuerySet.only()`` leaves them."""
    connection = connection or db()
    if _plain_attnames(model) is None or _init_listened(model):
        order = {name: i for i, name in enumerate(attnames)}
        ordered = sorted(attnames, key=lambda name: _field_index(model)[name])
        return model.from_db(connection.alias, ordered, [values[order[n]] for n in ordered])
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values, strict=True))
    state = obj._state = ModelState()
    state.adding, state.db = False, connection.alias
    return obj


def _init_listened(model: type[Model]) -> bool:
    """Whether anyone listens to ``pre_init`` or ``post_init`` of ``model`` (asked per instance:
    a receiver may connect at any time; nobody at all is the usual case, and the quickest)."""
    if not pre_init.receivers and not post_init.receivers:
        return False
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


@cache
def _field_index(model: type[Model]) -> dict[str, int]:
    return {f.attname: i for i, f in enumerate(concrete_fields(model))}


@cache
def _plain_attnames(model: type[Model]) -> tuple[str, ...] | None:
    """The attnames of ``model``'s columns when every one is a plain attribute behind Django's
    default descriptor (so ``__init__`` would only store it); None when ``model.from_db`` must run
    (a field with its own descriptor, such as a file, or ``from_db`` overridden)."""
    if model.from_db.__func__ is not Model.from_db.__func__:
        return None
    names = []
    for field in concrete_fields(model):
        descriptor = inspect.getattr_static(model, field.attname, None)
        if type(descriptor) not in (DeferredAttribute, ForeignKeyDeferredAttribute):
            return None
        names.append(field.attname)
    return tuple(names)


@cache
def _insert_sql(model: type[Model], rows: int, returning: bool, vendor: str,
                with_pk: bool = False) -> tuple[str, tuple]:
    fields = tuple(f for f in concrete_fields(model) if with_pk or not f.primary_key)
    one = "(" + ", ".join("%s" for _ in fields) + ")"
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ("  # noqa: S608 - names from _meta; values bound
           + ", ".join(quote(f.column) for f in fields) + ") VALUES "
           + ", ".join(one for _ in range(rows)))
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql, fields


def insert_statement(obj: Model, *, with_pk: bool = False) -> tuple[str, list]:
    """The INSERT (SQL, params) of the unsaved ``obj``, prepared as ``rows_insert`` prepares it, for
    a caller that runs it with other statements and needs nothing back: ``obj`` gets no pk, and
    no ``post_save`` is sent (refused when somebody listens).

    ``with_pk``: the pk ``obj`` already carries (taken from the table's sequence) is written too,
    and once the statement has run the caller calls ``inserted(obj)``, which sends ``post_save``
    as ``rows_insert`` does (so listeners are allowed)."""
    model = type(obj)
    if with_pk:
        if obj.pk is None:
            raise ValueError("with_pk: the object carries no pk")
    elif post_save.has_listeners(model):
        raise ValueError(f"{model.__name__} has post_save listeners: insert it with rows_insert")
    connection = db()
    sql, fields = _insert_sql(model, 1, False, connection.vendor, with_pk)
    return sql, [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]


def rows_insert(objs: Sequence[Model], *, signal: bool = True) -> None:
    """INSERT ``objs`` (unsaved instances of one model) in one statement and set their pks.

    Like ``Model.save()`` for a new row: ``pre_save`` fills ``auto_now_add`` fields, values are
    prepared by their fields, ``post_save(created=True)`` is sent for each (when ``signal``; there
    is no ``pre_save``: nothing of ours listens to it, and a test says so). Needs a backend that
    returns ids from an INSERT (PostgreSQL, SQLite ≥ 3.35).
    """
    if not objs:
        return
    connection = db()
    model = type(objs[0])
    sql, fields = _insert_sql(model, len(objs), True, connection.vendor)
    params = []
    for obj in objs:
        for field in fields:
            params.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
    pks = [row[0] for row in fetch(sql, params)]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        inserted(obj, signal=signal)


def inserted(obj: Model, *, signal: bool = True) -> None:
    """After ``obj``'s INSERT: mark it saved and send ``post_save(created=True)`` (when ``signal``
    and somebody listens), as ``Model.save()`` does."""
    connection = db()
    obj._state.adding = False
    obj._state.db = connection.alias
    if signal and post_save.has_listeners(model := type(obj)):
        post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False,
                       using=connection.alias)


def array(values: Iterable) -> str:
    """A PostgreSQL array literal of ``values`` (None is NULL), for a ``%s::type[]`` parameter.

    Built here rather than passed as a list: psycopg adapts a list element by element in Python
    (finding each element's dumper, then dumping it), which cost a referral chain's sale more than
    PostgreSQL's work on its five extra entries; a string is one C-level copy. Anything but a
    number is quoted and escaped, so any text is safe. PostgreSQL reads each element by the
    cast's element type.
    """
    return "{" + ",".join(map(_array_element, values)) + "}"


def numbers_array(values: Iterable[int | Decimal]) -> str:
    """``array`` of ints or Decimals, none None: nothing to quote (the common case, made quick)."""
    return "{" + ",".join(map(str, values)) + "}"


def array_of(value, count: int) -> str:
    """``array([value] * count)``, ``value`` written once."""
    return "{" + ",".join([_array_element(value)] * count) + "}"


def _array_element(value) -> str:
    if value is None:
        return "NULL"
    kind = type(value)
    if kind in _NUMBERS:
        if kind is Decimal and not value.is_finite():
            raise ValueError(f"not an amount: {value}")
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if isinstance(value, datetime) and value.tzinfo is None:
        # PostgreSQL would read it in the session's time zone, not in Django's.
        raise ValueError(f"naive datetime in an array: {value}")
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


_NUMBERS = frozenset({int, Decimal})


def prep(model: type[Model], name: str) -> Callable:
    """The function turning a Python value of field ``name`` into its database value."""
    connection = db()
    field = model._meta.get_field(name)
    return lambda value: field.get_db_prep_save(value, connection)


def _cursor():
    """The cursor for the hot path's statements, and whether the caller must close it.

    On PostgreSQL, one psycopg cursor per connection that binds parameters on the server, kept for
    the connection's life: psycopg prepares a statement it has seen ``DB_PREPARE_THRESHOLD`` times
    on the connection, and PostgreSQL stops parsing and planning it for every sale (planning the
    sale's statements cost more than executing them). Django keeps prepared statements off for the
    ORM's cursors (connection poolers in transaction mode lose them); only these statements are
    prepared, and ``DB_PREPARE_THRESHOLD=0`` turns it off for such a pooler.

    Django's cursor wrapper is left out (``_run`` translates errors as it does): when someone
    watches queries (DEBUG, a test capturing them, an ``execute_wrapper``) they get Django's own
    client-side cursor instead, which shows them the statements with their values.
    """
    connection = db()
    threshold = settings.DB_PREPARE_THRESHOLD
    if (connection.vendor != "postgresql" or not threshold or connection.queries_logged
            or connection.execute_wrappers):
        return connection.cursor(), True
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    kept = connection.__dict__.get("_loyalty_hot_cursor")
    if kept is not None and kept.connection is raw and not kept.closed:
        return kept, False
    if raw.prepare_threshold is None:
        # Only cursors that bind on the server (these) ever prepare; the ORM's do not.
        raw.prepare_threshold = threshold
    from django.db.backends.postgresql.base import ServerBindingCursor

    kept = connection.__dict__["_loyalty_hot_cursor"] = ServerBindingCursor(raw)
    return kept, False


def _run(sql: str, params: list, read):
    connection = db()
    cursor, close = _cursor()
    try:
        if not close:
            connection.validate_no_broken_transaction()
        with connection.wrap_database_errors:  # psycopg's errors as django.db's, like the ORM
            cursor.execute(sql, params)
            return read(cursor)
    finally:
        if close:
            cursor.close()


def fetch(sql: str, params: Iterable) -> list[tuple]:
    return _run(sql, list(params), lambda c: c.fetchall())


def execute(sql: str, params: Iterable) -> int:
    return _run(sql, list(params), lambda c: c.rowcount)
