"""Staff roles as Django groups: Owner, Manager, Cashier.

Owner: everything in the admin, staff logins included. Manager: customers, operations and the
catalogue, but not program settings, tiers or staff. Cashier: no admin at all (``is_staff`` off);
works at the till, bound to a branch by a ``StaffMember`` row. Kept in step after every migrate.
"""

from django.contrib.auth.models import Group, Permission

OWNER, MANAGER, CASHIER = "Owner", "Manager", "Cashier"
PROGRAM_APPS = ["loyalty", "referrals", "campaigns", "shop", "cashier", "django_celery_beat"]
MANAGER_MODELS = {
    "view": ["customer", "operation", "entry", "account", "tier", "branch", "tag"],
    "change": ["customer"],
    "add": ["customer", "tag"],
}


def roles_ensure(**_kwargs) -> None:
    owner, _ = Group.objects.get_or_create(name=OWNER)
    owner.permissions.set(
        Permission.objects.filter(content_type__app_label__in=[*PROGRAM_APPS, "auth"])
    )
    manager, _ = Group.objects.get_or_create(name=MANAGER)
    codenames = [f"{action}_{model}" for action, models in MANAGER_MODELS.items() for model in models]
    manager.permissions.set(
        Permission.objects.filter(content_type__app_label="loyalty", codename__in=codenames)
    )
    Group.objects.get_or_create(name=CASHIER)
