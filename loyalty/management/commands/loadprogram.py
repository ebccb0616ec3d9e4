from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from loyalty.exceptions import ProgramFileError
from loyalty.program import program_load


class Command(BaseCommand):
    help = "Create or update the loyalty program (settings, branches, tiers...) from a YAML file."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the program YAML (see presets/).")

    def handle(self, *args, file, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            report = program_load(path.read_text(encoding="utf-8"))
        except ProgramFileError as exc:
            raise CommandError(f"{file}: {exc} (nothing was changed)") from exc
        for line in report.changes:
            self.stdout.write(line)
        for line in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {line}"))
        self.stdout.write(self.style.SUCCESS(f"Program loaded from {file}."))
