"""Design overview: customers, tiers and the points ledger.

**Accounts.** Every customer owns four accounts, created with him: ``available`` (spendable points),
``pending`` (credited but not yet spendable: the accrual delay), ``held`` (reserved by an open shop
order, like a card authorisation) and ``debt`` (points he owes after a refund took back cashback he
had already spent; its balance is zero or negative). The business owns three system accounts:
``issued`` (where every point given comes from: cashback, bonuses, adjustments, opening balances),
``spent`` (where points paid on bills go) and ``expired``.

**Entries.** An ``Entry`` moves a positive ``amount`` from its ``source`` account to its
``destination`` account. That is the whole sign convention: an account's balance is the sum of
amounts that came in minus the sum that went out, so every entry adds to one account exactly what it
takes from another and the ledger as a whole always sums to zero. Entries are append-only: nothing
updates or deletes one; a refund or correction is a new entry that ``reverses`` the old one.

**Operations.** An ``Operation`` is the business event the entries belong to (a purchase, a refund, a
welcome bonus, an adjustment...). It holds the bill (total, excluded part, cash, points redeemed,
cashback) and the request id that makes a retry harmless (unique in the schema).

**Cached balances.** A customer account row carries ``balance``, written only by
``loyalty.services.ledger`` under the account's row lock, in the same transaction as the entries;
``manage.py verifyledger`` and the tests prove it equals the sum of its entries. System accounts
carry no cached balance (``NULL``): every sale touches them, and a cached total there would make
one hot row that every till in the business waits on.

**The sale's hot path.** ``purchase_create`` runs a fixed set of statements (referral ancestors,
the account lock, the request-id lookup, the operation, its entries, the balances, the customer)
written by hand through ``loyalty.rows``: the SQL text of each shape is built once from this
module's ``_meta``, values pass through the fields' own preparation and converters, and on
PostgreSQL the statements are prepared on the server (``DB_PREPARE_THRESHOLD``). A column added
here reaches those statements by itself; a new invariant goes into the schema (a constraint),
which the hand-written statements cannot bypass.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .money import ZERO
from .validators import validate_birthday, validate_currency, validate_language, validate_time_zone

MONEY = {"max_digits": 14, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2}


class BusinessSettings(models.Model):
    """The business's program settings: one row (pk=1), loaded with ``BusinessSettings.load()``."""

    name = models.CharField(_("business name"), max_length=200, default="")
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    language = models.CharField(_("language"), max_length=8, default="ru")
    welcome_bonus = models.DecimalField(_("welcome bonus"), default=ZERO, **MONEY)
    accrual_delay_days = models.PositiveSmallIntegerField(
        _("accrual delay, days"),
        default=0,
        help_text=_("Cashback is pending this many days before it can be spent; 0 = at once."),
    )
    expiry_months_after_last_purchase = models.PositiveSmallIntegerField(
        _("points expire after, months"),
        null=True,
        blank=True,
        help_text=_("Points expire this many months after the customer's last purchase. Empty: never."),
    )
    redeem_by_phone = models.BooleanField(
        _("redeem by phone number"),
        default=True,
        help_text=_("Off: redeeming points needs the customer's payment code, not just a phone."),
    )
    receipt_number_required = models.BooleanField(_("receipt number required"), default=False)

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="business_settings_singleton"),
            models.CheckConstraint(condition=Q(welcome_bonus__gte=0), name="welcome_bonus_gte_0",
                violation_error_message=_("The welcome bonus cannot be negative.")),
        ]

    def __str__(self) -> str:
        return self.name or str(_("Program settings"))

    def clean(self) -> None:
        errors = {}
        for field, check in (("currency", validate_currency), ("timezone", validate_time_zone),
                             ("language", validate_language)):
            try:
                check(getattr(self, field))
            except ValidationError as error:
                errors[field] = error
        if not self.redeem_by_phone:
            # Payment codes come with the customer's web card, which is not built yet: until then
            # this switch would leave no way at all to redeem points, at the till or by the API.
            errors["redeem_by_phone"] = ValidationError(_(
                "Payment codes are not issued yet (they come with the customer's web card): "
                "without redeeming by phone number, no points could be redeemed at all."),
                code="no_payment_codes")
        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> "BusinessSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class Branch(models.Model):
    """An outlet. Every sale belongs to one; cashiers are bound to one."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StaffMember(models.Model):
    """Binds a staff login to a branch (a cashier sees and sells only there)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff", verbose_name=_("user")
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="staff", verbose_name=_("branch")
    )
    external_id = models.CharField(
        _("external id"), max_length=100, blank=True, help_text=_("The employee's id in the till/1C.")
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.branch}"


class Tier(models.Model):
    """A status level: cashback % and the largest share of a bill points may pay."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    cashback_percent = models.DecimalField(_("cashback, %"), **PERCENT)
    max_redeem_percent = models.DecimalField(
        _("max share payable with points, %"), default=Decimal(100), **PERCENT
    )
    min_total_spent = models.DecimalField(_("total spent to reach"), default=ZERO, **MONEY)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["position", "min_total_spent"]
        constraints = [
            models.CheckConstraint(
                condition=Q(cashback_percent__gte=0, cashback_percent__lte=100),
                name="tier_cashback_percent_range",
                violation_error_message=_("Cashback must be between 0 and 100 percent."),
            ),
            models.CheckConstraint(
                condition=Q(max_redeem_percent__gte=0, max_redeem_percent__lte=100),
                name="tier_max_redeem_percent_range",
                violation_error_message=_("The share of a bill points may pay must be between 0 "
                                          "and 100 percent."),
            ),
            models.CheckConstraint(condition=Q(min_total_spent__gte=0), name="tier_threshold_gte_0",
                violation_error_message=_("The total spent to reach a tier cannot be negative.")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Two tiers from the same total would make a customer's tier a matter of chance.
        if self.min_total_spent is None:
            return
        other = (Tier.objects.filter(min_total_spent=self.min_total_spent).exclude(pk=self.pk)
                 .values_list("name", flat=True).first())
        if other is not None:
            raise ValidationError({"min_total_spent": _(
                "The tier “%(other)s” already starts at this total: each tier needs its own.")
                % {"other": other}})


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Gender(models.TextChoices):
    UNKNOWN = "", _("not stated")
    MALE = "male", _("male")
    FEMALE = "female", _("female")


class Customer(models.Model):
    """A person, identified by a phone number in E.164.

    ``joined_at`` is empty for a *phone-only* customer: a number that received points before its
    owner registered. Registering later keeps the points and credits the welcome bonus once.
    """

    phone = models.CharField(_("phone"), max_length=20, unique=True)
    uid = models.UUIDField(_("uid"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    joined_at = models.DateTimeField(_("registered"), null=True, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="customers",
        verbose_name=_("tier"),
    )
    tier_pinned = models.BooleanField(
        _("tier set by hand"), default=False,
        help_text=_("On: the tier stays as set and is not recomputed from the total spent."),
    )
    total_spent = models.DecimalField(_("total spent"), default=ZERO, **MONEY)
    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    is_blocked = models.BooleanField(_("blocked"), default=False)
    consent_messages = models.BooleanField(_("agrees to messages"), default=False)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers", verbose_name=_("tags"))
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="customers",
        verbose_name=_("imported by"), db_index=False,  # partial index in Meta
    )
    # A record merged into another is closed: blocked (cannot buy), and its phone moved to
    # ``former_phone`` so that no lookup by phone finds it and the number is free again.
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged",
        verbose_name=_("merged into"), db_index=False,  # partial index in Meta
    )
    former_phone = models.CharField(_("phone before closing"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # Most customers have neither: index only the rows that do.
        indexes = [
            models.Index(fields=["import_batch"], condition=Q(import_batch__isnull=False),
                         name="customer_import_batch"),
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False),
                         name="customer_merged_into"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total_spent__gte=0), name="customer_total_spent_gte_0"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(is_blocked=True),
                name="customer_closed_is_blocked",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(closed_at__isnull=False),
                name="customer_merged_is_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or '—'} ({self.phone})"

    def clean(self) -> None:
        try:
            validate_birthday(self.birthday)
        except ValidationError as error:
            raise ValidationError({"birthday": error}) from None

    @property
    def is_registered(self) -> bool:
        return self.joined_at is not None


class AccountKind(models.TextChoices):
    # Customer accounts (one of each per customer).
    AVAILABLE = "available", _("spendable")
    PENDING = "pending", _("pending")
    HELD = "held", _("reserved")
    DEBT = "debt", _("debt")
    # System accounts (one of each for the business).
    ISSUED = "issued", _("issued by the business")
    SPENT = "spent", _("spent on bills")
    EXPIRED = "expired", _("expired")


CUSTOMER_ACCOUNT_KINDS = (
    AccountKind.AVAILABLE, AccountKind.PENDING, AccountKind.HELD, AccountKind.DEBT,
)
SYSTEM_ACCOUNT_KINDS = (AccountKind.ISSUED, AccountKind.SPENT, AccountKind.EXPIRED)


class Account(models.Model):
    """A bucket of points. See the module docstring for the kinds and the cached balance."""

    kind = models.CharField(_("kind"), max_length=16, choices=AccountKind.choices)
    # No index of its own: the unique (customer, kind) index below starts with the customer and
    # serves every lookup by customer; a second index only slows creating customers (imports).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts",
        verbose_name=_("customer"), db_index=False,
    )
    balance = models.DecimalField(_("balance"), null=True, blank=True, **MONEY)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind"], condition=Q(customer__isnull=False),
                name="account_one_kind_per_customer",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(customer__isnull=True), name="account_one_system_kind"
            ),
            # A customer account caches its balance; a system account never does.
            models.CheckConstraint(
                condition=Q(customer__isnull=True, balance__isnull=True)
                | Q(customer__isnull=False, balance__isnull=False),
                name="account_balance_cached_iff_customer",
            ),
            models.CheckConstraint(
                condition=Q(customer__isnull=True, kind__in=SYSTEM_ACCOUNT_KINDS)
                | Q(customer__isnull=False, kind__in=CUSTOMER_ACCOUNT_KINDS),
                name="account_kind_matches_owner",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=CUSTOMER_ACCOUNT_KINDS[:3]) | Q(balance__gte=0),
                name="account_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.DEBT) | Q(balance__lte=0),
                name="account_debt_not_positive",
            ),
        ]

    def __str__(self) -> str:
        owner = self.customer.phone if self.customer_id else _("business")
        return f"{owner}: {self.get_kind_display()}"


class OperationKind(models.TextChoices):
    PURCHASE = "purchase", _("sale")
    REFUND = "refund", _("refund")
    WELCOME = "welcome", _("welcome bonus")
    ADJUSTMENT = "adjustment", _("manual adjustment")
    RELEASE = "release", _("pending points released")
    EXPIRY = "expiry", _("points expired")
    REFERRAL = "referral", _("referral reward")
    CAMPAIGN = "campaign", _("campaign gift")
    OPENING = "opening", _("opening balance")
    MERGE = "merge", _("customers merged")


class OperationState(models.TextChoices):
    """The Partner API's operation states."""

    NORMAL = "NORMAL", _("completed")
    CANCELED = "CANCELED", _("refunded")
    REVERSAL = "REVERSAL", _("refund")


class Operation(models.Model):
    """A business event that moves points: one bill, one refund, one bonus...

    For a purchase: ``total`` is the bill; ``excluded_total`` the part outside the program
    (discounted, promotional, instalment goods: earns nothing, cannot be paid with points);
    ``unredeemable_total`` a part that earns but cannot be paid with points; ``points`` what was
    redeemed; ``cash`` = total − points, the money paid; ``cashback`` what was credited. A refund
    carries the refunded amount in ``total`` and the points it moved back in ``points``/``cashback``.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=OperationKind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=OperationState.choices, default=OperationState.NORMAL
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    # Indexes of the foreign keys are in Meta: the (customer, time) and (branch, time) indexes
    # serve every lookup by customer or branch, and the cashier's and a refund's origin are
    # indexed only where set. Every index is written by each sale and by each row of a nightly
    # posting (150,000 operations on the first expiry night of a million customers).
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="operations",
        verbose_name=_("customer"), db_index=False,
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="operations",
        verbose_name=_("branch"), db_index=False,
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="operations", verbose_name=_("cashier"), db_index=False,
    )
    cashier_external_id = models.CharField(_("cashier's external id"), max_length=100, blank=True)
    cashier_name = models.CharField(_("cashier's name"), max_length=200, blank=True)
    total = models.DecimalField(_("bill total"), default=ZERO, **MONEY)
    excluded_total = models.DecimalField(_("not in the program"), default=ZERO, **MONEY)
    unredeemable_total = models.DecimalField(_("cannot be paid with points"), default=ZERO, **MONEY)
    points = models.DecimalField(_("points redeemed"), default=ZERO, **MONEY)
    cash = models.DecimalField(_("paid in money"), default=ZERO, **MONEY)
    cashback = models.DecimalField(_("points credited"), default=ZERO, **MONEY)
    cashback_percent = models.DecimalField(_("cashback, %"), default=ZERO, **PERCENT)
    refunded_total = models.DecimalField(_("refunded"), default=ZERO, **MONEY)
    balance_after = models.DecimalField(
        _("balance after"), null=True, blank=True,
        help_text=_("The customer's spendable balance right after this operation."), **MONEY,
    )
    receipt_number = models.CharField(_("receipt number"), max_length=100, blank=True)
    request_id = models.CharField(_("request id"), max_length=128, null=True, blank=True)
    origin = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds",
        verbose_name=_("refund of"), db_index=False,  # partial index in Meta: only refunds
    )
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    import_batch = models.ForeignKey(
        "ImportBatch", on_delete=models.PROTECT, null=True, blank=True, related_name="operations",
        verbose_name=_("import batch"), db_index=False,  # partial index in Meta: sales have none
    )

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="operation_customer_time"),
            # Partial: the nightly postings (expiry, release) have no branch, and a first expiry
            # night writes a hundred thousand of them; every query by branch names one.
            models.Index(fields=["branch", "-created_at"], condition=Q(branch__isnull=False),
                         name="operation_branch_time"),
            models.Index(fields=["cashier"], condition=Q(cashier__isnull=False),
                         name="operation_cashier"),
            models.Index(fields=["origin"], condition=Q(origin__isnull=False),
                         name="operation_origin"),
            models.Index(fields=["import_batch"], condition=Q(import_batch__isnull=False),
                         name="operation_import_batch"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["request_id"], name="operation_request_id_unique"),
            # The welcome bonus is credited once per person, whatever retries or races happen.
            models.UniqueConstraint(
                fields=["customer"], condition=Q(kind="welcome"), name="operation_one_welcome"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0, excluded_total__gte=0, unredeemable_total__gte=0,
                            points__gte=0, cash__gte=0, cashback__gte=0, refunded_total__gte=0),
                name="operation_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(refunded_total__lte=models.F("total")),
                name="operation_refund_within_total",
            ),
            models.CheckConstraint(
                condition=Q(origin__isnull=True) | Q(kind="refund"),
                name="operation_origin_only_on_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.total}"

    @property
    def refundable_total(self):
        return self.total - self.refunded_total


class EntryKind(models.TextChoices):
    CASHBACK = "cashback", _("cashback")
    REDEMPTION = "redemption", _("redemption")
    CASHBACK_REVERSAL = "cashback_reversal", _("cashback returned on refund")
    REDEMPTION_REVERSAL = "redemption_reversal", _("redeemed points returned on refund")
    DEBT = "debt", _("debt recorded")
    DEBT_SETTLEMENT = "debt_settlement", _("debt repaid")
    WELCOME = "welcome", _("welcome bonus")
    ADJUSTMENT = "adjustment", _("manual adjustment")
    RELEASE = "release", _("pending released")
    EXPIRY = "expiry", _("expiry")
    REFERRAL = "referral", _("referral reward")
    REWARD_REVERSAL = "reward_reversal", _("reward returned on refund")
    CAMPAIGN = "campaign", _("campaign gift")
    OPENING = "opening", _("opening balance")
    TRANSFER = "transfer", _("transfer")
    HOLD = "hold", _("reserved")
    HOLD_RELEASE = "hold_release", _("reservation released")


class Entry(models.Model):
    """One movement of ``amount`` points from ``source`` to ``destination``. Append-only.

    Written only by ``loyalty.services.ledger.entries_post`` (a test greps for other writers).
    """

    operation = models.ForeignKey(
        Operation, on_delete=models.PROTECT, related_name="entries", verbose_name=_("operation")
    )
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices)
    source = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="outgoing", verbose_name=_("from")
    )
    destination = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="incoming", verbose_name=_("to")
    )
    amount = models.DecimalField(_("points"), **MONEY)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    release_at = models.DateTimeField(
        _("spendable from"), null=True, blank=True,
        help_text=_("For points credited to the pending account: when they become spendable."),
    )
    reverses = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversals",
        verbose_name=_("reverses"), db_index=False,  # partial index in Meta: few entries reverse
    )

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["reverses"], condition=Q(reverses__isnull=False),
                         name="entry_reverses"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(
                condition=~Q(source=models.F("destination")), name="entry_moves_between_accounts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount}: {self.source_id} → {self.destination_id}"



class ImportMode(models.TextChoices):
    """What an import does with a row whose phone already belongs to a customer."""

    SKIP = "skip", _("skip existing customers")
    FILL = "fill", _("fill in their empty fields")
    OVERWRITE = "overwrite", _("overwrite their fields")


class ImportState(models.TextChoices):
    UPLOADED = "uploaded", _("uploaded")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    ROLLED_BACK = "rolled_back", _("rolled back")


class ImportBatch(models.Model):
    """One import of a customer base: the file, its column mapping, progress and result.

    Opening balances of the batch are ``OPENING`` operations pointing here, so the batch can be
    rolled back as a whole by reversing entries (``loyalty.services.imports``). The file is kept
    in the row (``content``) so a Celery worker on another machine can read it.
    """

    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("uploaded by"),
    )
    file_name = models.CharField(_("file"), max_length=255)
    content = models.BinaryField(_("content"), editable=False)
    mapping = models.JSONField(
        _("column mapping"), default=list, blank=True,
        help_text=_("[column header, field] pairs in the file's order; an empty field: not imported."),
    )
    mode = models.CharField(
        _("existing customers"), max_length=10, choices=ImportMode.choices, default=ImportMode.SKIP
    )
    state = models.CharField(
        _("state"), max_length=12, choices=ImportState.choices, default=ImportState.UPLOADED
    )
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    opening_total = models.DecimalField(_("opening balances"), default=ZERO, **MONEY)
    rejected_rows = models.TextField(_("rejected rows (CSV)"), blank=True, editable=False)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    rolled_back_at = models.DateTimeField(_("rolled back"), null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("rolled back by"),
    )

    class Meta:
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.state == ImportState.DONE else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))
