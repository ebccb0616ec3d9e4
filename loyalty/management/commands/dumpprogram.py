from django.core.management.base import BaseCommand

from loyalty.program import program_dump


class Command(BaseCommand):
    help = "Print the current loyalty program as YAML (the format loadprogram reads)."

    def handle(self, *args, **options):
        self.stdout.write(program_dump(), ending="")
