"""Transactional messages to a bare phone number (the join page's one-time code): the outbox row's
customer becomes optional, with ``phone`` and ``expires_at``; RU/EN templates for the code."""

import django.db.models.deletion
from django.db import migrations, models

TEMPLATES = {
    "ru": ("Код подтверждения {{ business }}",
           "{{ code }} — код подтверждения номера для {{ business }}. Действует {{ minutes }} мин. "
           "Никому его не сообщайте."),
    "en": ("{{ business }} confirmation code",
           "{{ code }} is your {{ business }} confirmation code. Valid for {{ minutes }} min. "
           "Do not share it with anyone."),
}


def create_templates(apps, schema_editor):
    Template = apps.get_model("campaigns", "NotificationTemplate")
    for language, (subject, body) in TEMPLATES.items():
        Template.objects.get_or_create(kind="phone_code", language=language,
                                       defaults={"subject": subject, "body": body})


def remove_templates(apps, schema_editor):
    apps.get_model("campaigns", "NotificationTemplate").objects.filter(kind="phone_code").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0002_schedules_and_templates'),
        ('loyalty', '0005_system_accounts'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='expires_at',
            field=models.DateTimeField(blank=True, help_text='Not sent after this moment (a one-time code that has expired).', null=True, verbose_name='worthless after'),
        ),
        migrations.AddField(
            model_name='notification',
            name='phone',
            field=models.CharField(blank=True, db_default='', default='', help_text='For a transactional message to someone who is not a customer yet.', max_length=20, verbose_name='phone'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='customer',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='loyalty.customer', verbose_name='customer'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('birthday', 'birthday greeting'), ('certificate', 'certificate issued'), ('expiry_reminder', 'points about to expire'), ('review_thanks', 'thanks for the review'), ('order_status', 'order status'), ('broadcast', 'message to a segment'), ('phone_code', 'phone confirmation code')], max_length=20, verbose_name='message'),
        ),
        migrations.AlterField(
            model_name='notificationtemplate',
            name='body',
            field=models.TextField(help_text='Placeholders: {{ name }}, {{ business }}, {{ points }}, {{ code }}, {{ valid_until }}, {{ balance }}, {{ expires_on }}, {{ text }}, {{ minutes }}.', verbose_name='text'),
        ),
        migrations.AlterField(
            model_name='notificationtemplate',
            name='kind',
            field=models.CharField(choices=[('birthday', 'birthday greeting'), ('certificate', 'certificate issued'), ('expiry_reminder', 'points about to expire'), ('review_thanks', 'thanks for the review'), ('order_status', 'order status'), ('broadcast', 'message to a segment'), ('phone_code', 'phone confirmation code')], max_length=20, verbose_name='message'),
        ),
        migrations.AddConstraint(
            model_name='notification',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('customer__isnull', False), ('phone', '')), models.Q(('customer__isnull', True), models.Q(('phone', ''), _negated=True)), _connector='OR'), name='notification_one_recipient'),
        ),
        migrations.RunPython(create_templates, remove_templates),
    ]
