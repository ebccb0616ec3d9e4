from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PartnerConfig(AppConfig):
    name = "partner"
    verbose_name = _("Partner API")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import outbox
        from .authentication import company_id_forget
        from .models import ApiKey, PartnerSettings
        from .selectors import api_key_cache_clear
        from .tasks import webhook_retry_schedule_ensure

        outbox.connect()
        post_save.connect(company_id_forget, sender=PartnerSettings, dispatch_uid="partner_company_id")
        post_delete.connect(company_id_forget, sender=PartnerSettings,
                            dispatch_uid="partner_company_id_del")
        post_save.connect(api_key_cache_clear, sender=ApiKey, dispatch_uid="partner_api_keys")
        post_delete.connect(api_key_cache_clear, sender=ApiKey, dispatch_uid="partner_api_keys_del")
        # The periodic sweep that re-sends webhooks whose receiver was down (django-celery-beat).
        post_migrate.connect(webhook_retry_schedule_ensure, sender=self,
                             dispatch_uid="partner_webhook_retry_schedule")
