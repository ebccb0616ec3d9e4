"""Referral chains for ``manage.py seeddemo`` (a ``DemoStep``, registered by ``ReferralsConfig``).

As customers join the demo business, about a third of those who register were invited by someone
who joined before them, through ``referral_link`` as the till, the shop or the join page records
it. Half of the invitations come from customers who were invited themselves, so word of mouth
runs a few generations deep (at most ``MAX_GENERATIONS`` below a customer nobody invited); the
sales the demo then makes pay the rewards through the sale as usual.
"""

from datetime import datetime

from loyalty.exceptions import LoyaltyError
from loyalty.management.commands.seeddemo import DemoContext, DemoStep
from loyalty.models import Customer

from .models import Referral, ReferralChannel
from .services import referral_code_get, referral_link

INVITED_SHARE = 0.35  # of customers who register
FROM_INVITED_SHARE = 0.5  # of invitations: made by a customer who was invited himself
MAX_GENERATIONS = 5


class ReferralDemo(DemoStep):
    def __init__(self) -> None:
        self._context: DemoContext | None = None
        self._generation: dict[int, int] = {}  # customer id → generations below his root
        self._inviters: list[Customer] = []  # who may invite: registered, below the depth cap
        self._invited_inviters: list[Customer] = []  # of them, those invited themselves

    def customer_joined(self, context: DemoContext, customer: Customer, when: datetime) -> None:
        if self._context is not context:  # a new run of the command
            self.__init__()
            self._context = context
        rng = context.rng
        generation = 0
        if (customer.joined_at is not None and self._inviters
                and rng.random() < INVITED_SHARE):
            pool = (self._invited_inviters
                    if self._invited_inviters and rng.random() < FROM_INVITED_SHARE
                    else self._inviters)
            inviter = rng.choice(pool)
            if self._invite(customer, inviter, rng, when):
                generation = self._generation[inviter.pk] + 1
        self._generation[customer.pk] = generation
        if generation < MAX_GENERATIONS and (customer.joined_at is not None
                                              or customer.import_batch_id is not None):
            self._inviters.append(customer)
            if generation > 0:
                self._invited_inviters.append(customer)

    def _invite(self, customer: Customer, inviter: Customer, rng, when: datetime) -> bool:
        channel = rng.choice([ReferralChannel.TILL, ReferralChannel.JOIN, ReferralChannel.SHOP])
        # The join page is given a code; the till and the shop usually a phone number.
        key = (referral_code_get(customer=inviter) if channel == ReferralChannel.JOIN
               else inviter.phone)
        try:
            referral_link(customer=customer, inviter=key, channel=channel)
        except LoyaltyError:
            return False  # a demo invitation the rules refuse is simply not made
        Referral.objects.filter(customer=customer).update(created_at=when)
        return True


referral_demo = ReferralDemo()
