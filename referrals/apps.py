from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self) -> None:
        from loyalty.extensions import purchase_extension_register
        from loyalty.program import SECTION_HANDLERS

        from .extension import referral_rewards
        from .program import referral_section_apply, referral_section_dump, referral_section_validate

        # Rewards are paid inside each sale; the program file's ``referral:`` section is ours.
        purchase_extension_register(referral_rewards)
        SECTION_HANDLERS["referral"] = (
            referral_section_validate, referral_section_apply, referral_section_dump,
        )
