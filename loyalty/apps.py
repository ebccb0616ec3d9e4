from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")

    def ready(self) -> None:
        from .roles import roles_ensure

        # After every migrate (permissions exist only then), keep the staff groups in step.
        post_migrate.connect(roles_ensure, sender=self, dispatch_uid="loyalty_roles_ensure")
