from django.core.management.base import BaseCommand, CommandError

from loyalty.models import Branch
from partner.services import api_key_create


class Command(BaseCommand):
    help = "Create a Partner API key for a branch; the last line printed is COMPANY_ID:API_KEY."

    def add_arguments(self, parser):
        parser.add_argument("--branch", required=True, help="The branch's name, as in Admin.")
        parser.add_argument("--name", default="", help="Which integration uses the key.")

    def handle(self, *args, branch: str, name: str, **options):
        found = Branch.objects.filter(name=branch).first()
        if found is None:
            raise CommandError(f"No branch named {branch!r}.")
        new = api_key_create(name=name or f"{found.name} integration", branch=found)
        self.stderr.write(f"API key {new.api_key.prefix}… for branch {found.name!r}; "
                          "store it now, it is not shown again.")
        self.stdout.write(new.credentials)
