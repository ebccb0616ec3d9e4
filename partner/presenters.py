"""Our objects in the reference's shapes (``CompanySettings``, ``CustomerDetail``, ``Operation``...).

Plain dicts, built in one pass: the reference's field names and types, numbers as JSON numbers with
at most two decimals. Fields of features this product does not have yet are ``null`` or left out
where the reference allows it, never invented (see docs/partner_api.md).
"""

from datetime import UTC, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils.text import slugify

from loyalty.models import (
    BusinessSettings,
    Customer,
    Gender,
    Operation,
    OperationKind,
    Tier,
)
from loyalty.money import HUNDRED, ZERO, money
from loyalty.program_cache import program_get
from loyalty.services import PurchaseCalculation

GENDERS = {Gender.MALE: "MALE", Gender.FEMALE: "FEMALE"}


def num(value: Decimal | int | None) -> float:
    """A JSON number with at most two decimals (half-up)."""
    return float(money(value if value is not None else ZERO))


def iso(value: datetime | None) -> str | None:
    """``2018-09-21T07:48:22.771Z``: UTC with milliseconds, as the reference's samples."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def tier_of(customer: Customer) -> Tier | None:
    """The customer's tier without a query when it was joined or is in the program cache."""
    if customer.tier_id is None:
        return None
    if Customer.tier.is_cached(customer):
        return customer.tier
    for tier in program_get().tiers:
        if tier.pk == customer.tier_id:
            return tier
    return customer.tier


def tier_out(tier: Tier) -> dict:
    return {
        "uid": str(tier.pk),
        "name": tier.name,
        "rate": num(tier.cashback_percent),
        "maxScoresDiscount": num(tier.max_redeem_percent),
        "conditions": {"totalCashSpent": {"target": num(tier.min_total_spent)}},
    }


NO_TIER = {"name": "", "rate": 0.0, "maxScoresDiscount": 100.0}


def settings_out(*, company_id: int, program: BusinessSettings, tiers: list[Tier],
                 referral_rates: list[Decimal], referral_reward: Decimal) -> dict:
    tier_list = [tier_out(t) for t in tiers]
    base = tier_list[0] if tier_list else NO_TIER
    return {
        "id": company_id,
        "name": program.name,
        "promoCode": "",
        "currency": program.currency or None,
        "baseDiscountPolicy": "CHARGE_SCORES",
        "marketingSettings": {
            "discountBase": 0.0,
            "maxScoresDiscount": base.get("maxScoresDiscount", 100.0),
        },
        "loyaltyProgramSettings": {
            "baseMembershipTier": base,
            "membershipTiers": tier_list,
            "referralCashbackRates": [num(rate) for rate in referral_rates],
            "cashierAward": None,
            "referralReward": num(referral_reward) if referral_reward else None,
            # Required by the reference but never described there; we have no VIP discount.
            "discountVip": None,
            "receiptLimit": None,
            "deferPointsForDays": program.accrual_delay_days or None,
            "firstPurchasePoints": None,
        },
        "purchaseByPhone": True,
        "usePointsByPhone": program.redeem_by_phone,
        "writeInvoice": program.receipt_number_required,
        "slug": slugify(program.name) or "company",
    }


def points_expire_at(customer: Customer, program: BusinessSettings) -> datetime | None:
    months = program.expiry_months_after_last_purchase
    if not months or customer.last_purchase_at is None:
        return None
    return customer.last_purchase_at + relativedelta(months=months)


def customer_out(customer: Customer, *, program: BusinessSettings, tags: bool = True) -> dict:
    """``CustomerDetail``. ``customer`` comes from ``selectors.customers_with_figures``."""
    participant = {
        "id": customer.pk,
        "inviterId": getattr(customer, "inviter_id", None),
        "points": num(getattr(customer, "points", None)),
        "discountRate": 0.0,
        "cashbackRate": num(customer.tier.cashback_percent if customer.tier else ZERO),
        "cashSpent": num(customer.total_spent),
        "savedFunds": num(getattr(customer, "saved_funds", None)),
        "invitedCount": getattr(customer, "invited_count", 0),
        "effectiveInvitedCount": getattr(customer, "effective_invited_count", 0),
        "operationsCount": customer.purchase_count,
        "fullRefundsCount": getattr(customer, "full_refunds", 0),
        "note": None,
        "dateCreated": iso(customer.joined_at or customer.created_at),
        "lastTransactionTime": iso(customer.last_purchase_at),
        "pointsExpireIn": iso(points_expire_at(customer, program)),
    }
    if customer.tier is not None:
        participant["membershipTier"] = tier_out(customer.tier)
    out = {
        "uid": str(customer.uid),
        "avatar": None,
        "displayName": customer.name,
        "gender": GENDERS.get(customer.gender, "NOT_SPECIFIED"),
        "phone": customer.phone,
        "birthDate": customer.birthday.isoformat() if customer.birthday else None,
        "participant": participant,
        "channelName": customer.source or None,
        "email": customer.email or None,
    }
    if tags:
        out["tags"] = [tag_out(t) for t in sorted(customer.tags.all(), key=lambda t: t.pk)]
    return out


def stranger_out(*, phone: str, tier: Tier | None) -> dict:
    """A number we have never seen, as ``CustomerDetail``: what a sale to it would earn."""
    participant = {
        "id": None, "inviterId": None, "points": 0.0, "discountRate": 0.0,
        "cashbackRate": num(tier.cashback_percent if tier else ZERO), "cashSpent": 0.0,
        "savedFunds": 0.0, "invitedCount": 0, "effectiveInvitedCount": 0, "operationsCount": 0,
        "fullRefundsCount": 0, "note": None, "dateCreated": None, "lastTransactionTime": None,
        "pointsExpireIn": None,
    }
    if tier is not None:
        participant["membershipTier"] = tier_out(tier)
    return {"uid": None, "avatar": None, "displayName": "", "gender": "NOT_SPECIFIED",
            "phone": phone, "birthDate": None, "participant": participant, "channelName": None,
            "email": None, "tags": []}


def tag_out(tag) -> dict:
    return {"id": tag.pk, "name": tag.name}


def calc_out(calc: PurchaseCalculation) -> dict:
    """``PurchaseCalc``. No discount policy here (points only). ``points`` are the customer's own;
    a certificate pays ``certificatePoints`` on top, so ``cash = total − points −
    certificatePoints``."""
    pct = money(calc.points * HUNDRED / calc.total) if calc.total else ZERO
    net = calc.points + calc.certificate_points
    net_pct = money(net * HUNDRED / calc.total) if calc.total else ZERO
    return {
        "maxPoints": num(calc.max_points),
        "total": num(calc.total),
        "skipLoyaltyTotal": num(calc.excluded_total),
        "unredeemableTotal": num(calc.unredeemable_total),
        "discountAmount": 0.0,
        "discountPercent": 0.0,
        "points": num(calc.points),
        "pointsPercent": num(pct),
        "netDiscount": num(net),
        "netDiscountPercent": num(net_pct),
        "certificatePoints": num(calc.certificate_points),
        "cash": num(calc.cash),
        "cashTotal": num(calc.cash),
        "cashBack": num(calc.cashback),
        "maxScoresDiscount": num(calc.max_redeem_percent),
    }


def certificate_out(certificate) -> dict:
    """Ours (the reference has no certificate object): the certificate a ``code`` named."""
    return {"code": certificate.code, "points": num(certificate.points),
            "maxScoresDiscount": num(certificate.max_redeem_percent),
            "validUntil": certificate.valid_until.isoformat(),
            "customerId": certificate.customer_id}


def operation_out(operation: Operation, *, certificate_points: Decimal | None = None) -> dict:
    """``Operation`` (a ``PurchaseOperation``): a sale or a refund (state ``REVERSAL``).

    ``points`` is signed from the customer's side: a sale shows the points it redeemed as a
    negative number, a refund the points it gave back as a positive one. A sale paid in part by a
    certificate shows the certificate's points apart, in ``certificatePoints`` (null without
    one); ``certificate_points`` is that figure when the caller knows it, else the selectors'
    ``certificate_points_used`` annotation is read. A refund never gives a certificate's share
    back, so its ``certificatePoints`` is null.
    """
    if certificate_points is None:
        certificate_points = getattr(operation, "certificate_points_used", None)
    if operation.kind != OperationKind.PURCHASE or not certificate_points:
        certificate_points = None
    own_points = operation.points - (certificate_points or ZERO)
    customer = operation.customer
    customer_info = {"id": customer.pk, "uid": str(customer.uid), "displayName": customer.name}
    tier = tier_of(customer)
    if tier is not None:
        customer_info["membershipTier"] = tier_out(tier)
    out = {
        "id": operation.pk,
        "dateCreated": iso(operation.created_at),
        "action": "PURCHASE",
        "state": operation.state,
        "customer": customer_info,
        "points": num(-own_points if operation.kind == OperationKind.PURCHASE else own_points),
        "certificatePoints": None if certificate_points is None else num(certificate_points),
        "receiptNumber": operation.receipt_number or None,
        "origin": {"id": operation.origin_id} if operation.origin_id else None,
        "total": num(operation.total),
        "cash": num(operation.cash),
        "cashBack": num(operation.cashback),
        "skipLoyaltyTotal": num(operation.excluded_total),
        "unredeemableTotal": num(operation.unredeemable_total),
    }
    cashier = _cashier_out(operation)
    if cashier is not None:
        out["cashier"] = cashier
    if operation.branch_id is not None:
        out["branch"] = {"id": operation.branch_id, "displayName": operation.branch.name}
    return out


def _cashier_out(operation: Operation) -> dict | None:
    if operation.cashier_id is not None:
        user = operation.cashier
        name = operation.cashier_name or user.get_full_name() or user.get_username()
        info = {"id": user.pk, "displayName": name}
    elif operation.cashier_external_id or operation.cashier_name:
        info = {"displayName": operation.cashier_name or operation.cashier_external_id}
    else:
        return None
    if operation.cashier_external_id:
        info["externalId"] = operation.cashier_external_id
    return info
