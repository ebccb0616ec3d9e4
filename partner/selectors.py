"""Reads of the Partner API, with the joins and per-customer figures the responses need."""

import base64
import binascii
import functools
import threading
import time
import uuid

from django.conf import settings
from django.db.models import Count, DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from loyalty import rows
from loyalty.models import (
    Account,
    AccountKind,
    Customer,
    Operation,
    OperationKind,
    OperationState,
    Tag,
)
from loyalty.phones import try_normalize_phone
from referrals.models import Referral

from .errors import BadCursor
from .models import ApiKey

# Largest id PostgreSQL's bigint holds: bigger numbers in a path or body are simply not found.
MAX_ID = 2**63 - 1
API_OPERATION_KINDS = (OperationKind.PURCHASE, OperationKind.REFUND)


def _sum_of(kind: str, field: str):
    rows = (
        Operation.objects.filter(customer=OuterRef("pk"), kind=kind)
        .order_by().values("customer").annotate(s=Sum(field)).values("s")
    )
    return Coalesce(Subquery(rows), Value(0), output_field=DecimalField(max_digits=14, decimal_places=2))


def _count_invitees(**conditions):
    rows = (
        Referral.objects.filter(inviter=OuterRef("pk"), **conditions)
        .order_by().values("inviter").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(rows), Value(0))


def customers_with_figures() -> QuerySet:
    """Customers with tier, tags, spendable ``points``, ``saved_funds``, ``full_refunds`` and the
    referral figures (``inviter_id``, ``invited_count``, ``effective_invited_count``)."""
    available = Account.objects.filter(customer=OuterRef("pk"), kind=AccountKind.AVAILABLE)
    refunds = (
        Operation.objects.filter(customer=OuterRef("pk"), kind=OperationKind.PURCHASE,
                                 state=OperationState.CANCELED)
        .order_by().values("customer").annotate(n=Count("pk")).values("n")
    )
    return (
        Customer.objects.select_related("tier").prefetch_related("tags")
        .annotate(
            points=Subquery(available.values("balance")[:1]),
            saved_funds=_sum_of(OperationKind.PURCHASE, "points") - _sum_of(OperationKind.REFUND, "points"),
            full_refunds=Coalesce(Subquery(refunds), Value(0)),
            inviter_id=Subquery(Referral.objects.filter(customer=OuterRef("pk")).values("inviter_id")[:1]),
            invited_count=_count_invitees(),
            effective_invited_count=_count_invitees(customer__purchase_count__gt=0),
        )
    )


def customer_get(*, customer_id: int) -> Customer | None:
    if not 0 < customer_id <= MAX_ID:
        return None
    return customers_with_figures().filter(pk=customer_id).first()


def customer_get_by_uid(*, uid: str) -> Customer | None:
    try:
        value = uuid.UUID(str(uid))
    except ValueError:
        return None
    return customers_with_figures().filter(uid=value).first()


def customer_get_by_phone(*, phone: str) -> Customer | None:
    normalized = try_normalize_phone(phone)
    if normalized is None:
        return None
    return customers_with_figures().filter(phone=normalized).first()


def customer_for_sale(*, phone: str) -> Customer | None:
    """The customer with this E.164 ``phone``, holding only his id (anything else read on first
    use): what a sale by phone needs before the service locks and reads him. One indexed query,
    by hand and prepared (``loyalty.rows``): it runs for every sale, and the ORM's version cost
    several times its execution."""
    found = rows.fetch(_customer_by_phone_sql(rows.db().vendor), [phone])
    return Customer.from_db(rows.db().alias, ["id"], found[0]) if found else None


@functools.cache
def _customer_by_phone_sql(vendor: str) -> str:
    q = rows.quote
    return f"SELECT {q('id')} FROM {q(Customer._meta.db_table)} WHERE {q('phone')} = %s"  # noqa: S608 - names from _meta; the value bound


def cursor_encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{pk}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    """The pk a cursor continues after; ``BadCursor`` when it is not one we gave out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _sep, number = text.partition(":")
        pk = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor() from None
    if prefix != "after" or not 0 <= pk <= MAX_ID:
        raise BadCursor()
    return pk


def customer_page(*, limit: int, offset: int = 0, cursor: str | None = None) -> tuple[list, str | None]:
    """Customers by id; ``cursor`` (when given) wins over ``offset``. Returns rows, next cursor."""
    qs = customers_with_figures().order_by("pk")
    if cursor:
        qs = qs.filter(pk__gt=cursor_decode(cursor))
        offset = 0
    rows = list(qs[offset:offset + limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_encode(rows[-1].pk) if more and rows else None)


def _operations() -> QuerySet:
    """Sales and refunds, with ``certificate_points_used``: what a certificate paid (or None)."""
    return Operation.objects.select_related("customer__tier", "branch", "cashier").filter(
        kind__in=API_OPERATION_KINDS
    ).annotate(certificate_points_used=F("certificate__used_points"))


def operation_get(*, operation_id: int) -> Operation | None:
    """A sale or refund (other operations are not the API's ``PURCHASE`` action)."""
    if not 0 < operation_id <= MAX_ID:
        return None
    return _operations().filter(pk=operation_id).first()


def operation_request_exists(*, request_id: str | None) -> bool:
    """Whether an operation was already written for this request id (a retried sale)."""
    return bool(request_id) and Operation.objects.filter(request_id=request_id).exists()


def operation_just_written(*, operation_id: int, branch) -> Operation:
    """An operation this request has just written through a service: one narrow query.

    The customer comes along; his tier is read from the program cache by the presenter, and the
    branch is the caller's (the key's), so no other join is needed on the hot path.
    """
    operation = Operation.objects.select_related("customer").get(pk=operation_id)
    if operation.branch_id == branch.pk:
        operation.branch = branch
    return operation


def operation_page(*, limit: int, offset: int = 0, cursor: str | None = None
                   ) -> tuple[list[Operation], str | None]:
    """Sales and refunds, newest first; the cursor continues below the last id returned."""
    qs = _operations().order_by("-pk")
    if cursor:
        qs = qs.filter(pk__lt=cursor_decode(cursor))
        offset = 0
    rows = list(qs[offset:offset + limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_encode(rows[-1].pk) if more and rows else None)


def tags_all() -> list[Tag]:
    return list(Tag.objects.order_by("pk"))


def tags_by_ids(*, ids: list[int]) -> tuple[list[Tag], list[int]]:
    """The tags with these ids and the ids that match none."""
    found = {t.pk: t for t in Tag.objects.filter(pk__in=[i for i in ids if 0 < i <= MAX_ID])}
    return list(found.values()), [i for i in ids if i not in found]


def customer_ids_existing(*, ids: list[int]) -> list[int]:
    wanted = [i for i in ids if 0 < i <= MAX_ID]
    return list(Customer.objects.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))



# Active keys by digest, per process, for PROGRAM_CACHE_SECONDS: every request authenticates, and a
# key changes a few times a year. Revoking a key, or saving one, drops them in this process at once;
# another process stops accepting a revoked key within those seconds. Unknown digests are never
# kept (a wrong key costs its query every time, as before), and the cache is bounded.
_keys_lock = threading.Lock()
_keys: dict[str, tuple[float, ApiKey]] = {}
_KEYS_MAX = 1000


def api_key_active(*, digest: str) -> ApiKey | None:
    """The unrevoked key with this digest, with its branch; None when there is none."""
    ttl = getattr(settings, "PROGRAM_CACHE_SECONDS", 5)
    now = time.monotonic()
    cached = _keys.get(digest)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    key = (ApiKey.objects.select_related("branch").filter(digest=digest, revoked_at__isnull=True)
           .order_by().first())
    with _keys_lock:
        if key is None:
            _keys.pop(digest, None)
        else:
            if len(_keys) >= _KEYS_MAX:
                _keys.clear()
            _keys[digest] = (now, key)
    return key


def api_key_cache_clear(**_kwargs) -> None:
    with _keys_lock:
        _keys.clear()
