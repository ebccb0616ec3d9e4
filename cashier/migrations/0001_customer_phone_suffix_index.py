"""An index for the till's "last digits" search on PostgreSQL.

The till finds customers by the end of their phone number (``phone LIKE '%4567'``), which no
ordinary index serves: with tens of thousands of customers it becomes a sequential scan on every
keystroke. The search compares the *reversed* phone with the reversed digits as a prefix
(``reverse(phone) LIKE '7654%'``), which this expression index answers. The index belongs to
``loyalty_customer`` but serves only the till, so the till's app owns it; SQLite (the embedded
default, small businesses) needs none and skips it.
"""

from django.db import migrations

INDEX = "cashier_customer_phone_reversed"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON loyalty_customer (reverse(phone) text_pattern_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0002_entry_kind_reward_reversal")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
