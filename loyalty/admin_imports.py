"""The owner's import screens: upload → columns and preview → run (a Celery task) → result.

Thin views over ``loyalty.services.imports``: the upload stores the file as an ``ImportBatch``; the
preview reads and checks the whole file with the chosen column mapping (nothing written) and shows
counts and the rows with problems; "Import" queues the batch's task after commit (it runs at once
on the embedded default) and shows a progress bar that refreshes itself until the batch is done;
the result page offers the rejected rows as a CSV file and, while the batch is live, its rollback.
"""

import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .exceptions import LoyaltyError
from .imports.headers import FIELDS
from .models import ImportBatch, ImportMode, ImportState
from .services.imports import (
    import_batch_create,
    import_batch_plan,
    import_batch_rollback,
    import_plan_counts,
)

logger = logging.getLogger(__name__)
MAX_UPLOAD = 50 * 2**20


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("CSV (any delimiter, UTF-8 or Windows-1251) or XLSX.")
    )
    mode = forms.ChoiceField(label=_("Customers already in the program"),
                             choices=ImportMode.choices, initial=ImportMode.SKIP,
                             widget=forms.RadioSelect)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("The file is larger than 50 MB: split it."))
        return upload


class ImportMappingForm(forms.Form):
    """One choice per column of the file (what the column holds), and the existing-customer mode."""

    mode = forms.ChoiceField(label=_("Customers already in the program"),
                             choices=ImportMode.choices, widget=forms.RadioSelect)

    def __init__(self, *args, header: list[str], mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", _("— not imported —")), *FIELDS.items()]
        for index, text in enumerate(header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=text or _("column %(n)d") % {"n": index + 1}, choices=choices,
                required=False, initial=mapping.get(text, ""),
            )

    def clean(self):
        data = super().clean()
        chosen = [data.get(f"col_{i}") for i in range(len(self.header))]
        picked = [c for c in chosen if c]
        if len(picked) != len(set(picked)):
            raise forms.ValidationError(_("Each field can come from one column only."))
        if "phone" not in picked:
            raise forms.ValidationError(_("Choose the column with the phone numbers."))
        return data

    def mapping(self) -> list[list[str]]:
        return [[text, self.cleaned_data.get(f"col_{i}") or ""] for i, text in enumerate(self.header)]

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.header))]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["pk", "created_at", "file_name", "state", "imported", "updated", "skipped",
                    "rejected", "opening_total", "created_by"]
    list_filter = ["state"]
    list_select_related = ["created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # The file and the rejected rows can be megabytes each: never load them for a list.
        return super().get_queryset(request).defer("content", "rejected_rows")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(self.preview_view), name="loyalty_importbatch_preview"),
            path("<int:pk>/progress/", view(self.progress_view),
                 name="loyalty_importbatch_progress"),
            path("<int:pk>/rejected.csv", view(self.rejected_view),
                 name="loyalty_importbatch_rejected"),
            path("<int:pk>/rollback/", view(self.rollback_view),
                 name="loyalty_importbatch_rollback"),
            *super().get_urls(),
        ]

    def _context(self, request, title, **extra):
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta,
                **extra}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = get_object_or_404(ImportBatch, pk=object_id)
        name = "preview" if batch.state == ImportState.UPLOADED else "progress"
        return HttpResponseRedirect(reverse(f"admin:loyalty_importbatch_{name}", args=[batch.pk]))

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = import_batch_create(data=upload.read(), file_name=upload.name,
                                            author=request.user, mode=form.cleaned_data["mode"])
            except LoyaltyError as exc:
                form.add_error("file", str(exc))
            else:
                return HttpResponseRedirect(
                    reverse("admin:loyalty_importbatch_preview", args=[batch.pk]))
        return TemplateResponse(request, "admin/loyalty/import_upload.html",
                                self._context(request, _("Import customers"), form=form,
                                              fields=FIELDS))

    def preview_view(self, request: HttpRequest, pk: int):
        if not self.has_add_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(ImportBatch, pk=pk)
        if batch.state != ImportState.UPLOADED:
            return HttpResponseRedirect(reverse("admin:loyalty_importbatch_progress", args=[pk]))
        header = [text for text, _field in batch.mapping]
        form = ImportMappingForm(request.POST or None, header=header, mapping=dict(batch.mapping),
                                 initial={"mode": batch.mode})
        if request.method == "POST" and form.is_valid():
            batch.mapping = form.mapping()
            batch.mode = form.cleaned_data["mode"]
            batch.save(update_fields=["mapping", "mode"])
            if "run" in request.POST:
                return self._run(request, batch)
        plan = counts = error = None
        try:
            plan = import_batch_plan(batch=batch)
            counts = import_plan_counts(plan=plan)
        except LoyaltyError as exc:
            error = str(exc)
        return TemplateResponse(request, "admin/loyalty/import_preview.html", self._context(
            request, _("Check the import of %(file)s") % {"file": batch.file_name},
            batch=batch, form=form, plan=plan, counts=counts, error=error,
            problems=plan.problems(200) if plan else [],
            sample=plan.new[:10] if plan else [],
        ))

    def _run(self, request, batch: ImportBatch):
        from .tasks import import_batch_run_task

        ImportBatch.objects.filter(pk=batch.pk, state=ImportState.UPLOADED).update(
            state=ImportState.QUEUED, stage="")

        def enqueue():
            try:
                import_batch_run_task.delay(batch.pk)
            except Exception:  # noqa: BLE001 - recorded on the batch; the page shows "failed"
                logger.exception("import batch %s: task failed", batch.pk)

        transaction.on_commit(enqueue)
        return HttpResponseRedirect(reverse("admin:loyalty_importbatch_progress", args=[batch.pk]))

    def progress_view(self, request: HttpRequest, pk: int):
        batch = get_object_or_404(ImportBatch.objects.defer("content"), pk=pk)
        running = batch.state in (ImportState.QUEUED, ImportState.RUNNING)
        return TemplateResponse(request, "admin/loyalty/import_progress.html", self._context(
            request, _("Import of %(file)s") % {"file": batch.file_name}, batch=batch,
            running=running,
            can_rollback=(batch.state == ImportState.DONE and batch.opening_total > 0
                          and request.user.has_perm("loyalty.change_importbatch")),
        ))

    def rejected_view(self, request: HttpRequest, pk: int):
        batch = get_object_or_404(ImportBatch.objects.defer("content"), pk=pk)
        response = HttpResponse("\ufeff" + batch.rejected_rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-rejected.csv"'
        return response

    def rollback_view(self, request: HttpRequest, pk: int):
        if request.method != "POST" or not request.user.has_perm("loyalty.change_importbatch"):
            raise PermissionDenied
        try:
            import_batch_rollback(batch_id=pk, author=request.user)
            self.message_user(request, _("The import's opening balances were rolled back."),
                              messages.SUCCESS)
        except LoyaltyError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:loyalty_importbatch_progress", args=[pk]))
