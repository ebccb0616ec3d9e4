"""The owner's admin for campaigns: settings, certificates, reviews, broadcasts, messages.

Certificates are issued by hand or sold here (no points move until a sale uses one). Marking a
review credits points through a durable service, so it has its own form view outside the admin's
save transaction; a broadcast is sent by an admin action after a preview of its recipients.
"""

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.admin import ReadOnlyAdmin, messages
from loyalty.exceptions import LoyaltyError
from loyalty.models import Customer
from loyalty.phones import try_normalize_phone

from .exceptions import CertificateNotActive
from .models import (
    SECRET_KINDS,
    Broadcast,
    CampaignSettings,
    Certificate,
    CertificateReason,
    CertificateStatus,
    JobRun,
    MessageKind,
    Notification,
    NotificationTemplate,
    ReviewMark,
)
from .selectors import broadcast_segment, certificate_stats
from .services.broadcasts import broadcast_send
from .services.certificates import certificate_cancel, certificate_code_new
from .services.notifications import notification_queue
from .services.reviews import review_mark


class PlatformsField(forms.CharField):
    """The review platforms as the owner types them: one per line (or separated by commas), not
    as JSON; stored as the list of names."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        names = [part.strip() for line in text.splitlines() for part in line.split(",")]
        unique = list(dict.fromkeys(n for n in names if n))
        if any(len(n) > 50 for n in unique):
            raise forms.ValidationError(_("A platform's name is at most 50 characters."))
        return unique


class CampaignSettingsForm(forms.ModelForm):
    review_platforms = PlatformsField(
        label=_("review platforms"), required=False,
        help_text=_("Maps services a review counts on, one per line: 2GIS, Yandex Maps."))

    class Meta:
        model = CampaignSettings
        fields = ["review_platforms"]  # the rest come from the admin's fieldsets


@admin.register(CampaignSettings)
class CampaignSettingsAdmin(admin.ModelAdmin):
    form = CampaignSettingsForm
    fieldsets = [
        (_("Birthday gift"), {"fields": ["birthday_points", "birthday_days_before",
                                          "birthday_valid_days", "birthday_max_redeem_percent"]}),
        (_("Come back gift"), {"fields": ["winback_points", "winback_after_days",
                                           "winback_valid_days"]}),
        (_("Review reward"), {"fields": ["review_points", "review_as_certificate",
                                          "review_valid_days", "review_platforms"]}),
        (_("Expiry"), {"fields": ["expiry_reminder_days"]}),
    ]

    def has_add_permission(self, request):
        return not CampaignSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class CertificateForm(forms.ModelForm):
    class Meta:
        model = Certificate
        fields = ["customer", "points", "max_redeem_percent", "reason", "valid_from", "valid_until",
                  "price"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:
            self.fields["reason"].choices = [
                (CertificateReason.MANUAL, CertificateReason.MANUAL.label),
                (CertificateReason.SOLD, CertificateReason.SOLD.label),
            ]
        if "valid_from" in self.fields:
            self.fields["valid_from"].initial = timezone.localdate


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    form = CertificateForm
    list_display = ["code", "points", "max_redeem_percent", "customer", "reason", "status",
                    "valid_from", "valid_until", "price", "used_at", "used_points"]
    list_filter = ["status", "reason", "valid_until"]
    search_fields = ["code", "customer__phone", "customer__name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    actions = ["cancel"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["code", "customer", "points", "max_redeem_percent", "reason", "period", "status",
                "valid_from", "valid_until", "price", "created_at", "issued_by", "used_at",
                "used_points", "operation"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return CertificateForm.Meta.fields
        return self.get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.code = certificate_code_new()
            obj.created_at = timezone.now()
            obj.issued_by = request.user
        super().save_model(request, obj, form, change)
        if not change and obj.customer_id:
            notification_queue(customer=obj.customer, kind=MessageKind.CERTIFICATE,
                               key=f"certificate:{obj.pk}", certificate=obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "stats": certificate_stats()}
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Cancel the selected certificates"), permissions=["change"])
    def cancel(self, request, queryset):
        """Asks first, listing what will stop working (and which were sold), then cancels."""
        active = queryset.filter(status=CertificateStatus.ACTIVE).select_related("customer")
        if "apply" not in request.POST:
            return TemplateResponse(request, "admin/campaigns/cancel_certificates.html", {
                **self.admin_site.each_context(request),
                "title": _("Cancel certificates"),
                "certificates": list(active.order_by("pk")),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            })
        done = 0
        for certificate in active:
            try:
                certificate_cancel(certificate=certificate)
            except CertificateNotActive:
                continue  # used at a till meanwhile
            done += 1
        self.message_user(request, _("%(n)d certificate(s) cancelled.") % {"n": done})
        return None


class ReviewMarkForm(forms.Form):
    phone = forms.CharField(label=_("Customer's phone"), max_length=30)
    platform = forms.ChoiceField(label=_("Platform"))
    link = forms.URLField(label=_("Link to the review"), required=False, max_length=500,
                          assume_scheme="https")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        platforms = CampaignSettings.load().review_platforms
        self.fields["platform"].choices = [(p, p) for p in platforms]

    def clean_phone(self):
        phone = try_normalize_phone(self.cleaned_data["phone"])
        customer = Customer.objects.filter(phone=phone).first() if phone else None
        if customer is None:
            raise forms.ValidationError(_("Customer not found."))
        return customer


@admin.register(ReviewMark)
class ReviewMarkAdmin(admin.ModelAdmin):
    list_display = ["created_at", "customer", "platform", "link", "marked_by", "operation",
                    "certificate"]
    list_filter = ["platform"]
    search_fields = ["customer__phone", "customer__name"]
    list_select_related = ["customer", "marked_by", "operation", "certificate"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """Mark a review through the service (it credits points in its own transaction)."""
        form = ReviewMarkForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                review_mark(customer=form.cleaned_data["phone"],
                            platform=form.cleaned_data["platform"],
                            link=form.cleaned_data["link"], marked_by=request.user)
            except LoyaltyError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("The review is marked and rewarded."),
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:campaigns_reviewmark_changelist"))
        return TemplateResponse(request, "admin/campaigns/review_mark.html", {
            **self.admin_site.each_context(request), "title": _("Mark a review"), "form": form,
            "opts": self.model._meta,
        })


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    list_display = ["subject", "tier", "tag", "inactive_days", "birthday_month", "created_at",
                    "sent_at", "recipients"]
    fields = ["subject", "text", "tier", "tag", "inactive_days", "birthday_month",
              "recipients_preview", "sent_at", "recipients"]
    readonly_fields = ["recipients_preview", "sent_at", "recipients"]
    actions = ["send"]

    @admin.display(description=_("would reach now"))
    def recipients_preview(self, obj):
        if obj is None or obj.pk is None:
            return _("save to see how many customers it reaches")
        return broadcast_segment(broadcast=obj).count()

    @admin.action(description=_("Send the selected broadcasts"), permissions=["change"])
    def send(self, request, queryset):
        for broadcast in queryset:
            try:
                n = broadcast_send(broadcast=broadcast)
            except LoyaltyError as exc:
                self.message_user(request, f"{broadcast}: {exc}", messages.ERROR)
            else:
                self.message_user(request, _("%(subject)s: queued for %(n)d customer(s).")
                                  % {"subject": broadcast.subject, "n": n}, messages.SUCCESS)


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind", "language", "subject"]
    list_filter = ["kind", "language"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "customer", "phone", "kind", "status", "channel", "attempts",
                    "sent_at", "error"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["customer__phone", "phone"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "certificate", "broadcast"]

    def get_exclude(self, request, obj=None):
        # A one-time code is the visitor's secret: staff never see it, even while it waits.
        if obj is not None and obj.kind in SECRET_KINDS:
            return ["context"]
        return super().get_exclude(request, obj)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["job", "as_of", "touched", "finished_at"]
    list_filter = ["job"]
