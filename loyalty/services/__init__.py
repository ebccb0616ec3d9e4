"""Every write of the loyalty domain. Other apps reach points only through these functions.

Split by sub-domain: ``ledger`` (the only writer of entries), ``customers`` (registration, phone-only
customers, tiers), ``purchases`` (calculation, sale, refund), ``adjustments``.
"""

from .adjustments import points_adjust
from .customers import (
    customer_get_or_create_by_phone,
    customer_register,
    customer_tier_recompute,
)
from .purchases import (
    PurchaseCalculation,
    Receipt,
    RefundReceipt,
    purchase_calculate,
    purchase_create,
    purchase_refund,
    purchase_refund_preview,
)

__all__ = [
    "PurchaseCalculation",
    "Receipt",
    "RefundReceipt",
    "customer_get_or_create_by_phone",
    "customer_register",
    "customer_tier_recompute",
    "points_adjust",
    "purchase_calculate",
    "purchase_create",
    "purchase_refund",
    "purchase_refund_preview",
]
