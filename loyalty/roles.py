"""Staff roles as Django groups: Owner, Manager, Cashier.

Owner: everything in the admin, staff logins included. Manager: customers, operations and the
catalogue, but not program settings, tiers or staff (he may view them); other apps say what he may
do with theirs (``manager_models_register`` from their ``AppConfig.ready``). Cashier: no admin
at all (``is_staff`` off); works at the till, bound to a branch by a ``StaffMember`` row. Kept in
step after every migrate.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

OWNER, MANAGER, CASHIER = "Owner", "Manager", "Cashier"
PROGRAM_APPS = ["loyalty", "referrals", "campaigns", "shop", "cashier", "django_celery_beat"]
MANAGER_MODELS = {
    "view": ["customer", "operation", "entry", "account", "tier", "branch", "tag"],
    "change": ["customer"],
    "add": ["customer", "tag"],
}
# App label → {action: [model names]}: what a Manager may do in each app.
_manager_models: dict[str, dict[str, list[str]]] = {"loyalty": MANAGER_MODELS}


def manager_models_register(app_label: str, models_by_action: dict[str, list[str]]) -> None:
    _manager_models[app_label] = models_by_action


def roles_ensure(**_kwargs) -> None:
    owner, _ = Group.objects.get_or_create(name=OWNER)
    owner.permissions.set(
        Permission.objects.filter(content_type__app_label__in=[*PROGRAM_APPS, "auth"])
    )
    manager, _ = Group.objects.get_or_create(name=MANAGER)
    allowed = Q(pk__in=[])
    for app_label, models_by_action in _manager_models.items():
        codenames = [f"{action}_{model}" for action, models in models_by_action.items()
                     for model in models]
        allowed |= Q(content_type__app_label=app_label, codename__in=codenames)
    manager.permissions.set(Permission.objects.filter(allowed))
    Group.objects.get_or_create(name=CASHIER)
