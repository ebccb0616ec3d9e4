from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns and certificates")

    def ready(self) -> None:
        from loyalty.management.commands.seeddemo import demo_step_register
        from loyalty.program import SECTION_HANDLERS

        from .demo import certificate_demo
        from .program import campaigns_apply, campaigns_dump, campaigns_validate

        SECTION_HANDLERS["campaigns"] = (campaigns_validate, campaigns_apply, campaigns_dump)
        demo_step_register(certificate_demo)  # seeddemo's business has certificates too
