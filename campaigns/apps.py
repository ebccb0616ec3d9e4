from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns and certificates")

    def ready(self) -> None:
        from loyalty.program import SECTION_HANDLERS

        from .program import campaigns_apply, campaigns_dump, campaigns_validate

        SECTION_HANDLERS["campaigns"] = (campaigns_validate, campaigns_apply, campaigns_dump)
