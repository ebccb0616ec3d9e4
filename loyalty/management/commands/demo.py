from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from loyalty.models import Tier


class Command(BaseCommand):
    help = "First-run demo: the Sakura program, logins and a few hundred customers (once)."

    def handle(self, *args, **options):
        if not Tier.objects.exists():
            call_command("loadprogram", str(Path(settings.BASE_DIR) / "presets" / "sakura.yaml"))
        call_command("seeddemo", customers=300, if_empty=True)
        self.stdout.write(self.style.SUCCESS(
            "Open http://127.0.0.1:8000/ and log in with one of the logins above: the owner and the "
            "manager land in the admin, the cashier at the till (/till/)."
        ))
