"""The ledger's rules hold in the schema too: going around the services hits IntegrityError."""

from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from loyalty.models import Account, BusinessSettings, Entry, Operation
from loyalty.services import purchase_create
from loyalty.services.ledger import system_account
from tests.factories import customer_create

pytestmark = pytest.mark.django_db


def _violates(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_entry_amount_must_be_positive(tiers, branch):
    customer = customer_create()
    op = Operation.objects.create(kind="adjustment", customer=customer)
    acc = customer.accounts.get(kind="available")
    issued = system_account("issued")
    _violates(lambda: Entry.objects.create(operation=op, kind="adjustment", source_id=issued.pk,
                                           destination=acc, amount=D("0")))
    _violates(lambda: Entry.objects.create(operation=op, kind="adjustment", source_id=issued.pk,
                                           destination=acc, amount=D("-5")))
    _violates(lambda: Entry.objects.create(operation=op, kind="adjustment", source=acc,
                                           destination=acc, amount=D("5")))


def test_spendable_balance_cannot_go_negative_nor_debt_positive(tiers):
    customer = customer_create()
    _violates(lambda: Account.objects.filter(customer=customer, kind="available")
              .update(balance=D("-0.01")))
    _violates(lambda: Account.objects.filter(customer=customer, kind="debt")
              .update(balance=D("0.01")))


def test_system_accounts_carry_no_cached_balance(tiers):
    issued = system_account("issued")
    _violates(lambda: Account.objects.filter(pk=issued.pk).update(balance=D("0")))
    _violates(lambda: Account.objects.create(kind="issued", customer=None, balance=None))


def test_request_id_is_unique(tiers, branch):
    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=100, request_id="same")
    _violates(lambda: Operation.objects.create(kind="purchase", customer=customer,
                                               request_id="same"))


def test_one_welcome_bonus_per_customer(tiers):
    customer = customer_create()
    Operation.objects.create(kind="welcome", customer=customer)
    _violates(lambda: Operation.objects.create(kind="welcome", customer=customer))


def test_refund_cannot_exceed_sale_total_in_schema(tiers, branch):
    customer = customer_create()
    receipt = purchase_create(customer=customer, branch=branch, total=100)
    _violates(lambda: Operation.objects.filter(pk=receipt.operation_id)
              .update(refunded_total=D("100.01")))


def test_settings_is_a_single_row(db):
    BusinessSettings.load()
    _violates(lambda: BusinessSettings.objects.create(pk=2))


def test_only_the_ledger_service_writes_entries():
    """Nothing but loyalty.services.ledger creates Entry rows or writes Account.balance."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    writers = re.compile(
        r"Entry\.objects\.(bulk_)?create|Entry\(\s*operation|\.update\([^)]*\bbalance=|INSERT INTO "
        r"\"?loyalty_entry"
    )
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/")) or "/migrations/" in rel:
            continue
        if rel.startswith("loyalty/services/"):
            continue
        if writers.search(path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []


def test_every_rule_an_owner_can_break_in_the_admin_explains_itself():
    from django.apps import apps
    from django.db.models import CheckConstraint

    owner_edits = {"welcome_bonus_gte_0", "tier_cashback_percent_range",
                   "tier_max_redeem_percent_range", "tier_threshold_gte_0",
                   "referral_first_purchase_bonus_gte_0", "referral_level_gte_1",
                   "referral_level_percent_range", "tier_invites_gte_1",
                   "campaign_points_not_negative", "campaign_birthday_percent_range",
                   "certificate_points_positive", "certificate_price_not_negative",
                   "certificate_percent_range", "certificate_valid_range"}
    found = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, CheckConstraint) and constraint.name in owner_edits:
                found[constraint.name] = str(constraint.get_violation_error_message())
    assert set(found) == owner_edits
    for name, message in found.items():
        assert name not in message and "violated" not in message, name
