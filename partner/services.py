"""Writes of the Partner API app: keys, rewards, and the API's request ids.

Points never move here: sales, refunds and rewards call ``loyalty.services``. What this module adds
is how an integration's retry key (``nonce`` or ``X-Origin-Request-Id``) becomes the loyalty
request id, prefixed with the key so it can never collide with a till's or another key's.
"""

import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from loyalty.exceptions import LoyaltyError
from loyalty.models import Branch, Customer, Operation, OperationKind, Tag
from loyalty.services import points_adjust

from .errors import TagNotFound
from .models import ApiKey, PartnerSettings, api_key_digest
from .selectors import api_key_cache_clear, tags_by_ids

# Longer client keys are hashed so that the request id fits Operation.request_id (128 chars).
_MAX_CLIENT_KEY = 80


def request_id_for(*, api_key_id: int, client_key: str | None, scope: str = "") -> str | None:
    """The loyalty request id for an integration's ``nonce`` / ``X-Origin-Request-Id``.

    ``api:<key id>:<scope><client key>``; None when the client sent none (no idempotency asked).
    """
    if not client_key:
        return None
    text = str(client_key)
    if len(text) > _MAX_CLIENT_KEY:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return f"api:{api_key_id}:{scope}{text}"


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    raw_key: str
    company_id: int

    @property
    def credentials(self) -> str:
        """``COMPANY_ID:API_KEY``: what an integration puts in its settings."""
        return f"{self.company_id}:{self.raw_key}"


def api_key_create(*, name: str, branch: Branch) -> NewApiKey:
    """Create a key for ``branch``; the only time the key itself is known is the return value."""
    raw = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name.strip() or branch.name, branch=branch, prefix=raw[:8], digest=api_key_digest(raw)
    )
    return NewApiKey(api_key=key, raw_key=raw, company_id=PartnerSettings.load().company_id)


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Stop the key from working from the next request on in this process, within
    ``PROGRAM_CACHE_SECONDS`` in the others (idempotent)."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key_cache_clear()


# Writing last_used_at on every request would add a write to every read; once a minute is enough
# to tell the owner which keys are in use.
LAST_USED_RESOLUTION_SECONDS = 60


def api_key_touch(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < LAST_USED_RESOLUTION_SECONDS:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


def tags_check(*, tag_ids: list[int]) -> list[Tag]:
    """The tags with these ids, by id; ``TagNotFound`` naming the ids that match no tag.

    A sale that sets tags checks them with this before it writes anything: refused for an
    unknown tag, it must leave no operation behind (the till would retry it, or give up on a sale
    that was in fact booked)."""
    tags, missing = tags_by_ids(ids=tag_ids)
    if missing:
        raise TagNotFound(ids=", ".join(map(str, missing)))
    return sorted(tags, key=lambda t: t.pk)


def customer_tags_set(*, customer: Customer, tag_ids: list[int]) -> list[Tag]:
    """Replace the customer's tags with these (the reference's "set customer tags").

    Raises ``TagNotFound`` naming the ids that match no tag; nothing is changed then.
    """
    tags = tags_check(tag_ids=tag_ids)
    customer.tags.set(tags)
    return tags


def customer_tags_apply(*, customer: Customer, tags: list[Tag]) -> None:
    """Set tags checked earlier (``tags_check``) on the customer, after his sale is written.

    A tag the owner deleted in between is left out instead of failing a request whose sale has
    already committed."""
    customer.tags.set(Tag.objects.filter(pk__in=[t.pk for t in tags]))


def reward_request_id(*, base: str, customer_id: int) -> str:
    """One request id per customer of a reward, so a retried task never credits twice."""
    digest = hashlib.sha256(base.encode()).hexdigest()[:40]
    return f"api-reward:{digest}:{customer_id}"


def reward_apply(*, customer_ids: list[int], points: Decimal, comment: str, base_request_id: str
                 ) -> list[Operation]:
    """Credit (or, for negative ``points``, debit) each customer; each through ``points_adjust``.

    Each customer is his own unit of work (a refusal for one — blocked, not enough points — does not
    stop the others), and each has a request id derived from ``base_request_id``, so running the
    whole reward again writes nothing new.
    """
    done = []
    reason = comment.strip() or "Partner API reward"
    for customer in Customer.objects.filter(pk__in=customer_ids).order_by("pk"):
        if customer.is_blocked:
            continue
        try:
            done.append(points_adjust(
                customer=customer, amount=points, reason=reason,
                request_id=reward_request_id(base=base_request_id, customer_id=customer.pk),
                kind=OperationKind.ADJUSTMENT,
            ))
        except LoyaltyError:  # one customer's refusal (not enough points) must not stop the others
            continue
    return done


def reward_schedule(*, customer_ids: list[int], points: Decimal, comment: str,
                    base_request_id: str) -> int:
    """Queue the reward after commit; returns how many customers will be rewarded."""
    from .tasks import reward_apply_task

    transaction.on_commit(lambda: reward_apply_task.delay(
        customer_ids=customer_ids, points=str(points), comment=comment,
        base_request_id=base_request_id,
    ))
    return len(customer_ids)
