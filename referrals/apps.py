from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from campaigns.services.jobs import housekeeping_register
        from loyalty.extensions import purchase_extension_register, tier_rule_register
        from loyalty.management.commands.seeddemo import demo_step_register
        from loyalty.program import SECTION_HANDLERS
        from loyalty.roles import manager_models_register

        from .demo import referral_demo
        from .extension import referral_rewards
        from .models import TierInvites
        from .program import referral_section_apply, referral_section_dump, referral_section_validate
        from .services import phone_checks_purge
        from .tiers import invite_tiers, tier_invites_changed

        # Rewards are paid inside each sale; tiers may also be reached by friends who bought; the
        # program file's ``referral:`` section is ours.
        purchase_extension_register(referral_rewards)
        demo_step_register(referral_demo)  # seeddemo's customers invite each other
        tier_rule_register(invite_tiers)
        # A Manager sees the program, the tree and its statistics, and corrects a customer's
        # inviter (as he edits customers); the program's settings stay the Owner's.
        manager_models_register("referrals", {
            "view": ["referralprogram", "referrallevel", "tierinvites", "referral",
                     "referralmember", "referralcode"],
            "change": ["referralmember"],
        })
        post_save.connect(tier_invites_changed, sender=TierInvites,
                          dispatch_uid="referrals_tier_invites_saved")
        post_delete.connect(tier_invites_changed, sender=TierInvites,
                            dispatch_uid="referrals_tier_invites_deleted")
        # The join page's spent phone checks go nightly (beat's task; runcampaigns without beat).
        housekeeping_register("phonechecks", phone_checks_purge)
        SECTION_HANDLERS["referral"] = (
            referral_section_validate, referral_section_apply, referral_section_dump,
        )
