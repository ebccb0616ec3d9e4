from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PartnerConfig(AppConfig):
    name = "partner"
    verbose_name = _("Partner API")

    def ready(self) -> None:
        from . import outbox
        from .tasks import webhook_retry_schedule_ensure

        outbox.connect()
        # The periodic sweep that re-sends webhooks whose receiver was down (django-celery-beat).
        post_migrate.connect(webhook_retry_schedule_ensure, sender=self,
                             dispatch_uid="partner_webhook_retry_schedule")
