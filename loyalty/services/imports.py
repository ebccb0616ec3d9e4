"""Importing a customer base: one ``ImportBatch`` per file, written in one transaction.

``import_batch_create`` stores an uploaded file and guesses its column mapping;
``import_batch_run`` reads and checks it (``loyalty.imports.plan``, progress saved as it goes),
then ``_import_write`` applies the plan set-based: new customers with COPY (PostgreSQL) or
chunked ``bulk_create``, opening balances as ``OPENING`` operations of the batch, then
``ledger.imported_customers_open_bulk`` opens their accounts already holding those balances and
writes the matching entries, two INSERT ... SELECT statements.
Existing customers (few, usually) are updated in chunks; an opening balance for one of them goes
through ``entries_post`` under his account lock, and only if he has no live opening balance yet,
so importing the same file twice never credits twice.

``import_batch_rollback`` reverses a batch's opening balances as a whole: a reversal operation per
customer and a reversing entry per entry, never a deletion. It is refused (``ImportRollbackRefused``)
when some customer has already spent points below his opening amount: taking them would make his
balance negative, and a debt the owner did not intend is worse than asking him to decide. Customer
records stay (they may be buying already); their profile changes are not undone.
"""

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..exceptions import LoyaltyError
from ..imports.headers import mapping_guess
from ..imports.plan import ImportPlan, existing_customer_ids, import_plan
from ..imports.reader import read_table
from ..imports.rows import RowData
from ..locks import accounts_lock, customer_accounts_lock
from ..models import (
    Account,
    AccountKind,
    Customer,
    Entry,
    EntryKind,
    ImportBatch,
    ImportMode,
    ImportState,
    Operation,
    OperationKind,
    OperationState,
    Tag,
)
from ..money import ZERO
from .bulk import constraints_immediate, rows_insert, tables_analyze
from .customers import tier_for_total, tiers_all
from .ledger import entries_post, imported_customers_open_bulk
from .purchases import credit_moves

logger = logging.getLogger(__name__)

ROLLBACK_PREFIX = "import-rollback:"
PROFILE_FIELDS = ("name", "email", "birthday", "gender", "source", "tier_id")


class ImportStateError(LoyaltyError):
    """Running an import that already ran, or rolling back one that is not done."""

    code = "importState"
    status = 409
    default_message = _("This import cannot do that in its present state.")


class ImportRollbackRefused(LoyaltyError):
    """Rolling back a batch whose opening points some customer has already spent."""

    code = "importRollbackRefused"
    status = 409
    default_message = _(
        "%(count)d customer(s) already spent points of this import (for example %(phones)s): "
        "rolling it back would make their balances negative. Adjust their points first."
    )


@contextmanager
def _timed(batch_id: int, step: str):
    """Log how long a step of an import took (DEBUG: the benchmark and slow-import hunts)."""
    started = time.perf_counter()
    yield
    logger.debug("import #%s %s: %.2f s", batch_id, step, time.perf_counter() - started)


@dataclass(frozen=True)
class ImportCounts:
    imported: int
    updated: int
    skipped: int
    rejected: int
    opening_total: Decimal


def import_batch_create(
    *, data: bytes, file_name: str, author=None, mode: str = ImportMode.SKIP
) -> ImportBatch:
    """Store an uploaded file as a batch with the column mapping its headers suggest.

    Raises ``ImportFileError`` when the file is no readable table.
    """
    table = read_table(data, file_name)
    guess = mapping_guess(table.header)
    # A list of pairs, not a dict: PostgreSQL's jsonb does not keep the keys' order.
    mapping = [[text, guess.get(i, "")] for i, text in enumerate(table.header)]
    return ImportBatch.objects.create(
        created_by=author, file_name=file_name[:255], content=data, mapping=mapping, mode=mode,
        total_rows=table.row_count(),
    )


def import_batch_plan(*, batch: ImportBatch, progress=None) -> ImportPlan:
    """The batch's file read and checked with its mapping and mode (the preview)."""
    return import_plan(
        data=bytes(batch.content), file_name=batch.file_name,
        mapping_by_name={text: field for text, field in batch.mapping or [] if field} or None,
        mode=batch.mode, progress=progress, total_rows=batch.total_rows or None,
    )


def import_batch_run(*, batch_id: int) -> ImportBatch:
    """Read, check and write batch ``batch_id``; its state, counts and rejected rows are saved.

    A refusal (unreadable file, a phone registered meanwhile...) marks the batch failed with the
    reason and writes nothing; an unexpected error does the same and is re-raised for the log.
    """
    claimed = ImportBatch.objects.filter(
        pk=batch_id, state__in=[ImportState.UPLOADED, ImportState.QUEUED]
    ).update(state=ImportState.RUNNING, stage="reading", processed_rows=0)
    if not claimed:
        raise ImportStateError()
    batch = ImportBatch.objects.get(pk=batch_id)

    def progress(done: int, total: int) -> None:
        ImportBatch.objects.filter(pk=batch_id).update(processed_rows=done, total_rows=total)

    try:
        with _timed(batch_id, "read and check"):
            plan = import_batch_plan(batch=batch, progress=progress)
        ImportBatch.objects.filter(pk=batch_id).update(
            stage="writing", processed_rows=plan.rows_total, total_rows=plan.rows_total
        )
        with _timed(batch_id, "write (with commit)"):
            counts = _import_write(batch_id=batch_id, plan=plan)
    except LoyaltyError as exc:
        ImportBatch.objects.filter(pk=batch_id).update(
            state=ImportState.FAILED, error=str(exc), stage="", finished_at=timezone.now()
        )
        raise
    except Exception:
        logger.exception("import batch %s failed", batch_id)
        ImportBatch.objects.filter(pk=batch_id).update(
            state=ImportState.FAILED, stage="", finished_at=timezone.now(),
            error=str(_("The import failed and wrote nothing; the error is in the server log.")),
        )
        raise
    ImportBatch.objects.filter(pk=batch_id).update(
        state=ImportState.DONE, stage="", imported=counts.imported, updated=counts.updated,
        skipped=counts.skipped, rejected=counts.rejected, opening_total=counts.opening_total,
        rejected_rows=plan.rejected_csv() if plan.rejected else "", finished_at=timezone.now(),
    )
    return ImportBatch.objects.get(pk=batch_id)


def _changes(customer: Customer, row: RowData, mode: str) -> list[str]:
    """Fields of ``customer`` this row changes (set on the instance); tier set ⇒ pinned."""
    changed = []
    for field, value in row.profile().items():
        if value in ("", None):
            continue
        current = getattr(customer, field)
        empty = current in ("", None) or (field == "tier_id" and not customer.tier_pinned)
        if current != value and (mode == ImportMode.OVERWRITE or empty):
            setattr(customer, field, value)
            changed.append(field)
    if "tier_id" in changed:
        customer.tier_pinned = True
        changed.append("tier_pinned")
    return changed


def _tag_ids(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
    return dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))


@transaction.atomic(durable=True)
def _import_write(*, batch_id: int, plan: ImportPlan) -> ImportCounts:
    constraints_immediate()
    ImportBatch.objects.select_for_update().get(pk=batch_id)
    # A phone may have been registered at a till since the plan was made: treat it as existing.
    with _timed(batch_id, "re-check phones"):
        late = existing_customer_ids([r.phone for r in plan.new])
    # In phone order: the customer table has three indexes on the phone (unique, LIKE prefix and
    # the till's reversed suffix); fed sorted, two of them are filled page after page instead of
    # at random (measured: a quarter of the PostgreSQL time of writing 100k customers).
    new_rows = sorted((r for r in plan.new if r.phone not in late), key=attrgetter("phone"))
    existing = plan.existing + [(r, late[r.phone]) for r in plan.new if r.phone in late]
    tag_ids = _tag_ids({t for r in new_rows for t in r.tags}
                       | ({t for r, _pk in existing for t in r.tags}
                          if plan.mode != ImportMode.SKIP else set()))

    start_tier = tier_for_total(ZERO, tiers_all())
    with _timed(batch_id, "customers"):
        rows_insert(Customer, (
            {"phone": r.phone, "name": r.name, "email": r.email, "birthday": r.birthday,
             "gender": r.gender, "source": r.source,
             "tier_id": r.tier_id or (start_tier.pk if start_tier else None),
             "tier_pinned": r.tier_id is not None, "import_batch_id": batch_id}
            for r in new_rows
        ))
        ids = dict(Customer.objects.filter(import_batch_id=batch_id).values_list("phone", "pk"))
    with _timed(batch_id, "tags"):
        rows_insert(Customer.tags.through, ({"customer_id": ids[r.phone], "tag_id": tag_ids[t]}
                                            for r in new_rows for t in r.tags))
    opening_total = ZERO
    openings = [r for r in new_rows if r.balance > 0]
    with _timed(batch_id, "opening operations"):
        rows_insert(Operation, (
            {"kind": OperationKind.OPENING, "customer_id": ids[r.phone], "cashback": r.balance,
             "balance_after": r.balance, "import_batch_id": batch_id,
             "comment": f"import #{batch_id}, line {r.line}"}
            for r in openings
        ))
    with _timed(batch_id, "accounts with opening entries"):
        if len(new_rows) > 1000:
            # Only the columns the next statements filter and join on: a full ANALYZE of the
            # customer table also sorts samples of every text column (~0.5 s for 100k rows).
            tables_analyze((Customer, ["id", "import_batch_id"]),
                           (Operation, ["customer_id", "import_batch_id", "kind"]))
        imported_customers_open_bulk(batch_id=batch_id)
    opening_total += sum((r.balance for r in openings), ZERO)

    updated = skipped = 0
    if plan.mode == ImportMode.SKIP:
        skipped = len(existing)
    else:
        changed_ids, opened = _existing_update(batch_id=batch_id, existing=existing,
                                               mode=plan.mode, tag_ids=tag_ids)
        updated = len(changed_ids)
        skipped = len(existing) - updated
        opening_total += opened
    return ImportCounts(imported=len(new_rows), updated=updated, skipped=skipped,
                        rejected=len(plan.rejected), opening_total=opening_total)


def _existing_update(*, batch_id: int, existing: list[tuple[RowData, int]], mode: str,
                     tag_ids: dict[str, int]) -> tuple[set[int], Decimal]:
    """Update existing customers' fields and tags; credit opening balances they never had.

    Runs inside ``_import_write``'s transaction; takes the account locks it needs.
    """
    changed_ids: set[int] = set()
    fields_all = ["name", "email", "birthday", "gender", "source", "tier", "tier_pinned"]
    chunk = 2000
    for start in range(0, len(existing), chunk):
        part = existing[start:start + chunk]
        customers = Customer.objects.in_bulk([pk for _row, pk in part])
        to_save = []
        for row, pk in part:
            customer = customers[pk]
            if _changes(customer, row, mode):
                to_save.append(customer)
                changed_ids.add(pk)
        Customer.objects.bulk_update(to_save, fields_all)
        through = Customer.tags.through
        links = [through(customer_id=pk, tag_id=tag_ids[t]) for row, pk in part for t in row.tags]
        if links:
            have = set(through.objects.filter(customer_id__in=[pk for _r, pk in part])
                       .values_list("customer_id", "tag_id"))
            fresh = [link for link in links if (link.customer_id, link.tag_id) not in have]
            through.objects.bulk_create(fresh, ignore_conflicts=True)
            changed_ids.update(link.customer_id for link in fresh)

    with_balance = {pk: row for row, pk in existing if row.balance > 0}
    already = set(Operation.objects.filter(
        customer_id__in=list(with_balance), kind=OperationKind.OPENING, state=OperationState.NORMAL
    ).values_list("customer_id", flat=True))
    credit = {pk: row for pk, row in with_balance.items() if pk not in already}
    opened = ZERO
    if credit:
        locked = customer_accounts_lock(customer_ids=list(credit))
        for pk, row in credit.items():
            accounts = locked[pk]
            moves = credit_moves(accounts, row.balance, kind=EntryKind.OPENING)
            operation = Operation.objects.create(
                kind=OperationKind.OPENING, customer_id=pk, cashback=row.balance,
                balance_after=accounts.available.balance + sum(
                    (m.amount for m in moves if m.destination is accounts.available), ZERO),
                import_batch_id=batch_id, comment=f"import #{batch_id}, line {row.line}",
            )
            entries_post(operation=operation, moves=moves)
            changed_ids.add(pk)
            opened += row.balance
    return changed_ids, opened


@transaction.atomic(durable=True)
def import_batch_rollback(*, batch_id: int, author=None) -> ImportBatch:
    """Reverse every opening balance of batch ``batch_id`` (whole batch or nothing).

    Raises ``ImportStateError`` unless the batch is done, ``ImportRollbackRefused`` when a
    customer has fewer spendable points than the batch gave him.
    """
    constraints_immediate()
    batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
    if batch.state != ImportState.DONE:
        raise ImportStateError()
    live = Operation.objects.filter(import_batch_id=batch_id, kind=OperationKind.OPENING,
                                    state=OperationState.NORMAL)
    batch_entries = Entry.objects.filter(operation__in=live)
    accounts_lock(accounts=Account.objects.filter(
        Q(pk__in=batch_entries.values("destination_id")) | Q(pk__in=batch_entries.values("source_id")),
        customer__isnull=False,
    ))
    short = list(
        batch_entries.filter(destination__kind=AccountKind.AVAILABLE)
        .values("destination_id", "destination__balance", "destination__customer__phone")
        .annotate(received=Sum("amount"))
        .filter(received__gt=F("destination__balance"))
        .values_list("destination__customer__phone", flat=True)[:1000]
    )
    if short:
        raise ImportRollbackRefused(count=len(short), phones=", ".join(short[:5]))

    t_op, t_acc = Operation._meta.db_table, Account._meta.db_table
    comment = f"import #{batch_id} rolled back"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {t_op} (kind, state, created_at, customer_id, branch_id, cashier_id,"  # noqa: S608 - table names from _meta; values bound
            f" cashier_external_id, cashier_name, total, excluded_total, unredeemable_total,"
            f" points, cash, cashback, cashback_percent, refunded_total, balance_after,"
            f" receipt_number, request_id, origin_id, comment, import_batch_id)"
            f" SELECT %s, %s, %s, o.customer_id, NULL, %s, '', '', 0, 0, 0, o.cashback, 0, 0, 0,"
            f" 0, a.balance - o.cashback, '', (%s || CAST(o.id AS VARCHAR(20))), NULL, %s,"
            f" o.import_batch_id"
            f" FROM {t_op} o JOIN {t_acc} a ON a.customer_id = o.customer_id AND a.kind = %s"
            f" WHERE o.import_batch_id = %s AND o.kind = %s AND o.state = %s",
            [OperationKind.OPENING, OperationState.REVERSAL, timezone.now(),
             author.pk if author is not None else None, ROLLBACK_PREFIX, comment,
             AccountKind.AVAILABLE, batch_id, OperationKind.OPENING, OperationState.NORMAL],
        )
    from .ledger import entries_reverse_bulk

    entries_reverse_bulk(batch_id=batch_id, request_prefix=ROLLBACK_PREFIX)
    live.update(state=OperationState.CANCELED)
    batch.state = ImportState.ROLLED_BACK
    batch.rolled_back_at = timezone.now()
    batch.rolled_back_by = author
    batch.save(update_fields=["state", "rolled_back_at", "rolled_back_by"])
    return batch


def import_plan_counts(*, plan: ImportPlan) -> ImportCounts:
    """What applying ``plan`` would count, without writing (the dry run and the preview)."""
    opening = sum((r.balance for r in plan.new), ZERO)
    if plan.mode == ImportMode.SKIP:
        return ImportCounts(imported=len(plan.new), updated=0, skipped=len(plan.existing),
                            rejected=len(plan.rejected), opening_total=opening)
    updated = 0
    ids = [pk for _row, pk in plan.existing]
    with_opening = set(Operation.objects.filter(
        customer_id__in=ids, kind=OperationKind.OPENING, state=OperationState.NORMAL
    ).values_list("customer_id", flat=True)) if ids else set()
    chunk = 2000
    for start in range(0, len(plan.existing), chunk):
        part = plan.existing[start:start + chunk]
        customers = Customer.objects.prefetch_related("tags").in_bulk([pk for _r, pk in part])
        for row, pk in part:
            customer = customers[pk]
            tags = {t.name for t in customer.tags.all()}
            credits = row.balance > 0 and pk not in with_opening
            if _changes(customer, row, plan.mode) or set(row.tags) - tags or credits:
                updated += 1
                opening += row.balance if credits else ZERO
    return ImportCounts(imported=len(plan.new), updated=updated,
                        skipped=len(plan.existing) - updated, rejected=len(plan.rejected),
                        opening_total=opening)
