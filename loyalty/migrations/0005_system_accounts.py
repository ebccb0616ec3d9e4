"""The business's system accounts (issued, spent, expired) exist from the first migrate.

``loyalty.services.ledger.system_account`` used to create them on first use, inside whatever sale
came first: if that sale rolled back, the process kept an id that never existed, and another
thread could post against the row before it was committed. Created here, they never are.
"""

from django.db import migrations

SYSTEM_KINDS = ("issued", "spent", "expired")


def create(apps, schema_editor):
    Account = apps.get_model("loyalty", "Account")
    for kind in SYSTEM_KINDS:
        Account.objects.get_or_create(kind=kind, customer=None, defaults={"balance": None})


class Migration(migrations.Migration):

    dependencies = [("loyalty", "0004_lean_indexes")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
