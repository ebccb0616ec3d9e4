"""Design overview: the referral tree and what it pays.

**Links.** A ``Referral`` row says who invited a customer (one inviter per customer, none for most).
It may be corrected by the owner until the friend's first purchase; from then on it is fixed
(the services check ``Customer.purchase_count`` under the friend's account lock).

**Closure table.** ``ReferralAncestor`` holds one row per (descendant, ancestor) pair with the number
of generations between them (``depth`` 1 = the inviter, 2 = the inviter's inviter...). It is derived
from the links and rewritten only by ``referrals.services`` together with them. With it, a sale
reads every ancestor up to the configured depth in one indexed query, and the statistics (invitees
per level, generations) are plain aggregates.

**Settings.** ``ReferralProgram`` (one row, pk=1) holds the one-time bonus to the inviter on a
friend's first purchase; ``ReferralLevel`` rows hold the percent of each friend's purchase paid on
each level (level 1 = the inviter); ``TierInvites`` optionally lets a tier be reached by a number of
effective invites (friends who bought).

**Rewards.** Points move only through the ledger: a sale's ``EntryKind.REFERRAL`` entries (and the
``debt_settlement`` ones when a reward first repays an ancestor's debt) are the record. An entry's
level is the closure row's depth between the sale's buyer and the entry's customer: a link is
fixed as soon as anyone at or below it has bought, so that depth never changes once paid. Refunds'
reversal entries point at what they reverse (``Entry.reverses``).

**Phone checks.** The join page registers a friend only once he has typed the one-time code sent to
his phone. ``PhoneCheck`` holds one row per phone number: the HMAC of the code last sent (never the
code), when it expires, wrong attempts, whether it was used, and the sends of the current hour (the
row is also the per-number lock that makes those limits hold under concurrent requests).
``PhoneCheckCounter`` counts the codes sent per visitor's address and in all per clock hour, so one
visitor cannot make the business send codes to many numbers. Both are working data, not records: a
nightly task deletes them once their code and their hour are long over.
"""

import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.models import MONEY, PERCENT, Customer, Tier
from loyalty.money import ZERO

# No 0/O, 1/I/L: codes are read aloud at the till and typed from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def referral_code_generate() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class ReferralProgram(models.Model):
    """The referral program's settings: one row (pk=1), loaded with ``ReferralProgram.load()``."""

    first_purchase_bonus = models.DecimalField(
        _("bonus for a friend's first purchase"), default=ZERO,
        help_text=_("Points to the inviter once, when the friend makes the first purchase."),
        **MONEY,
    )

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral program")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="referral_program_singleton"),
            models.CheckConstraint(condition=Q(first_purchase_bonus__gte=0),
                                   name="referral_first_purchase_bonus_gte_0",
                violation_error_message=_("The first-purchase bonus cannot be negative.")),
        ]

    def __str__(self) -> str:
        return str(_("Referral program"))

    @classmethod
    def load(cls) -> "ReferralProgram":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class ReferralLevel(models.Model):
    """Percent of a friend's purchase paid to the ancestor ``level`` generations above him."""

    program = models.ForeignKey(
        ReferralProgram, on_delete=models.CASCADE, related_name="levels", default=1,
        verbose_name=_("referral program"),
    )
    level = models.PositiveSmallIntegerField(
        _("level"), help_text=_("1 = the friend's inviter, 2 = the inviter's inviter, and so on.")
    )
    percent = models.DecimalField(_("reward, % of the purchase"), **PERCENT)

    class Meta:
        verbose_name = _("referral level")
        verbose_name_plural = _("referral levels")
        ordering = ["level"]
        constraints = [
            models.UniqueConstraint(fields=["level"], name="referral_level_unique"),
            models.CheckConstraint(condition=Q(level__gte=1), name="referral_level_gte_1",
                violation_error_message=_("Levels are numbered from 1 (the inviter).")),
            models.CheckConstraint(condition=Q(percent__gte=0, percent__lte=100),
                                   name="referral_level_percent_range",
                violation_error_message=_("A level's percent must be between 0 and 100.")),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.percent}%"


class TierInvites(models.Model):
    """A tier that is also reached by this many effective invites (friends who bought)."""

    program = models.ForeignKey(
        ReferralProgram, on_delete=models.CASCADE, related_name="tier_invites", default=1,
        verbose_name=_("referral program"),
    )
    tier = models.OneToOneField(
        Tier, on_delete=models.CASCADE, related_name="referral_invites", verbose_name=_("tier")
    )
    min_effective_invites = models.PositiveIntegerField(_("friends who bought, to reach"))

    class Meta:
        verbose_name = _("tier by invites")
        verbose_name_plural = _("tiers by invites")
        constraints = [
            models.CheckConstraint(condition=Q(min_effective_invites__gte=1),
                                   name="tier_invites_gte_1",
                violation_error_message=_("At least one friend who bought is needed to give a tier.")),
        ]

    def __str__(self) -> str:
        return f"{self.tier}: {self.min_effective_invites}"


class ReferralCode(models.Model):
    """A customer's short code for his invitation link (``/join/<code>``), made on first need."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="referral_code",
        verbose_name=_("customer"),
    )
    code = models.CharField(_("referral code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralChannel(models.TextChoices):
    TILL = "till", _("till")
    SHOP = "shop", _("online shop")
    JOIN = "join", _("invitation link")
    ADMIN = "admin", _("set by the owner")
    IMPORT = "import", _("import")


class Referral(models.Model):
    """``customer`` was invited by ``inviter``. Fixed from the customer's first purchase on."""

    customer = models.OneToOneField(
        Customer, on_delete=models.PROTECT, primary_key=True, related_name="referral",
        verbose_name=_("friend"),
    )
    inviter = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="invitees", verbose_name=_("invited by")
    )
    channel = models.CharField(_("how"), max_length=16, choices=ReferralChannel.choices,
                               blank=True)
    created_at = models.DateTimeField(_("invited"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.CheckConstraint(condition=~Q(customer=models.F("inviter")),
                                   name="referral_no_self_invite"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} ← {self.inviter_id}"


class ReferralAncestor(models.Model):
    """Closure table: ``ancestor`` is ``depth`` generations above ``descendant`` (see above)."""

    # No single-column indexes: the two composite ones below lead with these columns.
    descendant = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    ancestor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    depth = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("referral ancestor")
        verbose_name_plural = _("referral ancestors")
        constraints = [
            # The sale's query: WHERE descendant = ? AND depth <= ? is an index range scan.
            models.UniqueConstraint(fields=["descendant", "depth"],
                                    name="referral_ancestor_one_per_depth"),
            models.UniqueConstraint(fields=["descendant", "ancestor"],
                                    name="referral_ancestor_once"),
            models.CheckConstraint(condition=Q(depth__gte=1), name="referral_ancestor_depth_gte_1"),
            models.CheckConstraint(condition=~Q(descendant=models.F("ancestor")),
                                   name="referral_ancestor_not_self"),
        ]
        indexes = [
            # Statistics: a customer's descendants per level.
            models.Index(fields=["ancestor", "depth"], name="referral_ancestor_by_ancestor"),
        ]

    def __str__(self) -> str:
        return f"{self.descendant_id} → {self.ancestor_id} ({self.depth})"


class PhoneCheck(models.Model):
    """The one-time code last sent to ``phone`` (E.164) to prove the visitor holds it; see
    ``referrals.services.phone_check_send`` / ``phone_check_confirm`` for the rules."""

    phone = models.CharField(_("phone"), max_length=20, unique=True)
    code_hash = models.CharField(_("code (hashed)"), max_length=64, blank=True)
    sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    expires_at = models.DateTimeField(_("valid until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    used_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    window_started_at = models.DateTimeField(_("sends counted since"), null=True, blank=True)
    sends_in_window = models.PositiveSmallIntegerField(_("sends since then"), default=0)

    class Meta:
        verbose_name = _("phone check")
        verbose_name_plural = _("phone checks")

    def __str__(self) -> str:
        return self.phone


class PhoneCheckCounter(models.Model):
    """Codes sent in one hour (``window_start``, a whole UTC hour) for one ``key``: a visitor's
    address (``ip:203.0.113.7``, ``ip:2001:db8:1:2::/64``) or everyone (``all``). Written only by
    one ``INSERT ... ON CONFLICT DO UPDATE`` in ``referrals.services``; purged once the hour is
    over."""

    key = models.CharField(_("counted for"), max_length=64)
    window_start = models.DateTimeField(_("hour starting"))
    sends = models.PositiveIntegerField(_("codes sent"), default=0)

    class Meta:
        verbose_name = _("phone code counter")
        verbose_name_plural = _("phone code counters")
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"],
                                    name="phone_check_counter_once_per_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.window_start:%Y-%m-%d %H:00}: {self.sends}"


class ReferralMember(Customer):
    """A customer seen from the referral program (the owner's admin page of his invitations)."""

    class Meta:
        proxy = True
        verbose_name = _("customer's invitations")
        verbose_name_plural = _("customers' invitations")
