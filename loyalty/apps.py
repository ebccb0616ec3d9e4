from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")

    def ready(self) -> None:
        from django.apps import apps

        from .roles import roles_ensure

        # After every migrate (permissions exist only then), keep the staff groups in step. Django
        # creates each app's permissions in that app's post_migrate: wait for the last app with
        # models, or a fresh database gives the Owner none for the apps listed after this one.
        last = [config for config in apps.get_app_configs() if config.models_module][-1]
        post_migrate.connect(roles_ensure, sender=last, dispatch_uid="loyalty_roles_ensure")
