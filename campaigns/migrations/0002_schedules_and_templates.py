"""A fresh install gets the nightly schedules (editable in Admin) and RU/EN message templates."""

import json

from django.db import migrations

# (job, hour, minute) in the Celery time zone (the business's): after midnight, one after another.
SCHEDULES = [("deferred", 0, 5), ("expiry", 0, 15), ("birthday", 0, 30), ("winback", 0, 35),
             ("tiers", 0, 45)]

TEMPLATES = {
    "birthday": {
        "ru": ("С днём рождения от {{ business }}!",
               "{{ name }}, поздравляем с наступающим днём рождения! Дарим сертификат на {{ points }} "
               "баллов, код {{ code }}, действует до {{ valid_until }}."),
        "en": ("Happy birthday from {{ business }}!",
               "{{ name }}, happy birthday in advance! Here is a {{ points }}-point certificate, "
               "code {{ code }}, valid until {{ valid_until }}."),
    },
    "certificate": {
        "ru": ("Сертификат от {{ business }}",
               "{{ name }}, для вас сертификат на {{ points }} баллов, код {{ code }}, действует до "
               "{{ valid_until }}. Ждём вас!"),
        "en": ("A certificate from {{ business }}",
               "{{ name }}, here is a {{ points }}-point certificate, code {{ code }}, valid until "
               "{{ valid_until }}. We look forward to seeing you!"),
    },
    "expiry_reminder": {
        "ru": ("Баллы скоро сгорят", "{{ name }}, ваши {{ balance }} баллов сгорят {{ expires_on }}. "
               "Успейте потратить их в {{ business }}."),
        "en": ("Your points expire soon", "{{ name }}, your {{ balance }} points expire on "
               "{{ expires_on }}. Spend them at {{ business }} before then."),
    },
    "review_thanks": {
        "ru": ("Спасибо за отзыв!", "{{ name }}, спасибо за отзыв! Начислили {{ points }} баллов."),
        "en": ("Thank you for the review!", "{{ name }}, thank you for the review! We credited "
               "{{ points }} points."),
    },
    "order_status": {
        "ru": ("Заказ {{ order }}", "{{ name }}, статус вашего заказа {{ order }}: {{ status }}."),
        "en": ("Order {{ order }}", "{{ name }}, your order {{ order }} is now: {{ status }}."),
    },
    "broadcast": {
        "ru": ("{{ subject }}", "{{ text }}"),
        "en": ("{{ subject }}", "{{ text }}"),
    },
}


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    from django.conf import settings

    for job, hour, minute in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=str(minute), hour=str(hour), day_of_week="*", day_of_month="*",
            month_of_year="*", timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=f"campaigns: {job}",
            defaults={"task": "campaigns.job_run", "crontab": crontab,
                      "kwargs": json.dumps({"job": job})},
        )
    every_5, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="campaigns: send messages",
        defaults={"task": "campaigns.notifications_send", "interval": every_5},
    )
    Template = apps.get_model("campaigns", "NotificationTemplate")
    for kind, languages in TEMPLATES.items():
        for language, (subject, body) in languages.items():
            Template.objects.get_or_create(kind=kind, language=language,
                                           defaults={"subject": subject, "body": body})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__startswith="campaigns: ").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
