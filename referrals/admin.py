"""The owner's referral admin: program settings (levels, bonus, tiers by invites), every customer's
inviter and invitees per level with the owner's correction, the links, and the tree's statistics.

Changing an inviter goes through ``referrals.services.referral_inviter_set`` from a custom view (the
admin's own save runs in a transaction, where a durable service cannot own its unit of work).
"""

from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.exceptions import LoyaltyError

from .models import (
    Referral,
    ReferralLevel,
    ReferralMember,
    ReferralProgram,
    TierInvites,
)
from .selectors import customer_referrals, referral_list, referral_tree_stats, reward_entries
from .services import inviter_resolve, referral_code_get, referral_inviter_set


class ReferralLevelInline(admin.TabularInline):
    model = ReferralLevel
    extra = 1
    fields = ["level", "percent"]


class TierInvitesInline(admin.TabularInline):
    model = TierInvites
    extra = 0
    fields = ["tier", "min_effective_invites"]
    verbose_name_plural = _("Tiers also reached by friends who bought (customers move at their "
                            "next sale, a friend's first purchase or the nightly tiers job)")


@admin.register(ReferralProgram)
class ReferralProgramAdmin(admin.ModelAdmin):
    list_display = ["__str__", "first_purchase_bonus", "levels", "stats_link"]
    fields = ["first_purchase_bonus", "stats_link"]
    readonly_fields = ["stats_link"]
    inlines = [ReferralLevelInline, TierInvitesInline]

    def has_add_permission(self, request):
        return not ReferralProgram.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("levels, %"))
    def levels(self, obj):
        return " · ".join(f"{p.normalize():f}" for p in obj.levels.values_list("percent", flat=True))

    @admin.display(description=_("statistics"))
    def stats_link(self, obj=None):
        return format_html('<a href="{}">{}</a>', reverse("admin:referrals_stats"),
                           _("The referral tree's statistics"))

    def get_urls(self):
        return [
            path("stats/", self.admin_site.admin_view(self.stats_view), name="referrals_stats"),
            *super().get_urls(),
        ]

    def stats_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PeriodForm(request.GET or None)
        since = until = None
        if form.is_valid():
            since, until = form.period()
        return TemplateResponse(request, "admin/referrals/stats.html", {
            **self.admin_site.each_context(request),
            "title": _("Referral tree"),
            "opts": self.model._meta,
            "form": form,
            "stats": referral_tree_stats(since=since, until=until),
        })


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("from"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("to (inclusive)"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if until is not None and until >= date.max:
            self.add_error("until", _("Choose an earlier date."))
        if since and until and since > until:
            self.add_error("until", _("The end of the period is before its start."))
        return cleaned

    def period(self) -> tuple[datetime | None, datetime | None]:
        zone = timezone.get_current_timezone()
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = datetime.combine(since, time.min, tzinfo=zone) if since else None
        end = (datetime.combine(until, time.min, tzinfo=zone) + timedelta(days=1)
               if until else None)
        return start, end


class InviterForm(forms.Form):
    inviter = forms.CharField(
        label=_("Invited by"), required=False, max_length=40,
        help_text=_("Phone number or invitation code of the inviter; leave empty to remove."),
    )


@admin.register(ReferralMember)
class ReferralMemberAdmin(admin.ModelAdmin):
    list_display = ["phone", "name", "inviter", "invited", "bought", "purchase_count"]
    search_fields = ["phone", "name"]
    list_select_related = ["referral__inviter"]
    change_form_template = "admin/referrals/member.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _invited=Count("invitees", distinct=True),
            _bought=Count("invitees", filter=Q(invitees__customer__purchase_count__gt=0),
                          distinct=True),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        from loyalty.phones import try_normalize_phone

        phone = try_normalize_phone(search_term)
        if phone:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("invited by"), ordering="referral__inviter__phone")
    def inviter(self, obj):
        link = getattr(obj, "referral", None)
        return link.inviter if link else "—"

    @admin.display(description=_("friends invited"), ordering="_invited")
    def invited(self, obj):
        return obj._invited

    @admin.display(description=_("friends who bought"), ordering="_bought")
    def bought(self, obj):
        return obj._bought

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        # Not the admin's changeform (it wraps a transaction around the save): the correction
        # is one durable service call.
        if not str(object_id).isdigit():
            raise Http404  # a mistyped address is "not found", not a server error
        customer = get_object_or_404(ReferralMember, pk=object_id)
        if not self.has_view_or_change_permission(request, customer):
            raise PermissionDenied
        can_change = self.has_change_permission(request, customer)
        form = InviterForm(request.POST or None)
        if request.method == "POST" and can_change and form.is_valid():
            try:
                raw = form.cleaned_data["inviter"].strip()
                inviter = inviter_resolve(inviter=raw) if raw else None
                referral_inviter_set(customer=customer, inviter=inviter)
            except LoyaltyError as exc:
                form.add_error("inviter", str(exc))
            else:
                self.message_user(request, _("The inviter was saved."), messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        summary = customer_referrals(customer=customer)
        return TemplateResponse(request, self.change_form_template, {
            **self.admin_site.each_context(request),
            "title": _("Invitations of %(customer)s") % {"customer": customer},
            "opts": self.model._meta,
            "original": customer,
            "customer": customer,
            "summary": summary,
            "code": summary.code or referral_code_get(customer=customer),
            "invitees": referral_list(inviter=customer),
            "form": form if can_change and not summary.inviter_fixed else None,
            "rewards": reward_entries().filter(destination__customer=customer)
            .select_related("operation__customer").order_by("-pk")[:50],
        })


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["customer", "inviter", "channel", "created_at", "friend_bought"]
    list_filter = ["channel"]
    list_select_related = ["customer", "inviter"]
    search_fields = ["customer__phone", "inviter__phone"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("friend bought"), boolean=True)
    def friend_bought(self, obj):
        return obj.customer.purchase_count > 0
