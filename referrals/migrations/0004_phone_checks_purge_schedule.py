"""Beat deletes the join page's spent phone checks and counters every night (editable in Admin),
after the campaigns' jobs; see ``referrals.services.phone_checks_purge``."""

from django.db import migrations

TASK_NAME = "referrals: purge phone checks"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    from django.conf import settings

    # In the Celery time zone (the business's), like the campaigns' nightly jobs (0:05 to 0:45).
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="55", hour="0", day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME, defaults={"task": "referrals.phone_checks_purge", "crontab": crontab},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("referrals", "0003_phonecheckcounter"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
