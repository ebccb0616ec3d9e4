"""Admin for the owner: API keys (created → shown once; revoked), webhooks and their attempts."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import services, webhooks
from .models import (
    ApiKey,
    DeliveryStatus,
    PartnerSettings,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


@admin.register(PartnerSettings)
class PartnerSettingsAdmin(admin.ModelAdmin):
    list_display = ["company_id"]
    readonly_fields = ["company_id"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        PartnerSettings.load()  # the row exists from the first look on
        return super().changelist_view(request, extra_context)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "branch", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["branch", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "branch"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history (last use) stays visible

    def save_model(self, request, obj, form, change):
        if change:
            ApiKey.objects.filter(pk=obj.pk).update(name=obj.name)
            return
        new = services.api_key_create(name=obj.name, branch=obj.branch)
        obj.pk, obj.prefix, obj.digest = new.api_key.pk, new.api_key.prefix, new.api_key.digest
        obj.created_at = new.api_key.created_at
        self.message_user(
            request,
            _("Copy the credentials now, they are shown only once: %(credentials)s")
            % {"credentials": new.credentials},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, _("Keys revoked: %(n)d.") % {"n": queryset.count()})


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["event", "url", "is_active"]
    list_editable = ["is_active"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"  # a receiver's address typed without a scheme
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        # Switch a webhook off instead: its deliveries and attempts stay on record, and a sale in
        # another process (which caches endpoint ids for seconds) never meets a deleted one.
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["started_at", "timestamp", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "event", "endpoint", "status", "attempt_count", "next_attempt_at",
                    "created_at", "delivered_at"]
    list_filter = ["status", "event"]
    readonly_fields = ["endpoint", "event", "operation", "payload", "request_id", "status",
                       "attempt_count", "next_attempt_at", "created_at", "delivered_at"]
    inlines = [WebhookAttemptInline]
    actions = ["send_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send again now"), permissions=["change"])
    def send_now(self, request, queryset):
        now = timezone.now()
        ids = list(queryset.values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=ids).exclude(status=DeliveryStatus.DELIVERED).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now)
        sent = [webhooks.delivery_send(delivery_id=pk, now=now) for pk in ids]
        ok = sum(1 for attempt in sent if attempt is not None and attempt.ok)
        self.message_user(request, _("Delivered: %(ok)d of %(n)d.") % {"ok": ok, "n": len(ids)})


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["started_at", "delivery", "status_code", "error", "duration_ms"]
    list_filter = ["status_code"]
    readonly_fields = ["delivery", "started_at", "timestamp", "status_code", "error", "duration_ms"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
