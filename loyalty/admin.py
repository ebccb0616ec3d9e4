"""The owner's admin: program settings, branches, tiers, customers; the ledger read-only.

Nobody edits the ledger here. Points move only through the "adjust points" action, which asks for
an amount and a reason and posts through ``loyalty.services.points_adjust`` (an admin action runs
outside the admin's own save transaction, so the durable service can own its unit of work).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from .exceptions import LoyaltyError
from .models import (
    Account,
    AccountKind,
    Branch,
    BusinessSettings,
    Customer,
    Entry,
    Operation,
    StaffMember,
    Tag,
    Tier,
)
from .money import money
from .phones import format_phone, try_normalize_phone
from .services import points_adjust


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger tables: visible, never added to, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BusinessSettings)
class BusinessSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "welcome_bonus", "accrual_delay_days", "redeem_by_phone"]

    def has_add_permission(self, request):
        return not BusinessSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "is_active"]
    search_fields = ["name"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "cashback_percent", "max_redeem_percent", "min_total_spent"]
    list_editable = ["position", "cashback_percent", "max_redeem_percent", "min_total_spent"]
    ordering = ["position", "min_total_spent"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


class OperationInline(admin.TabularInline):
    model = Operation
    fk_name = "customer"
    fields = ["created_at", "kind", "state", "branch", "total", "points", "cashback",
              "balance_after", "comment"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("branch")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AdjustPointsForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Points"), max_digits=14, decimal_places=2,
        help_text=_("Positive adds points, negative takes them away."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError(_("Enter a non-zero number of points."))
        return amount


class MergeCustomersForm(forms.Form):
    keep = forms.ModelChoiceField(
        label=_("Keep"), queryset=Customer.objects.none(), widget=forms.RadioSelect,
        empty_label=None, help_text=_("The record that stays: usually the customer's own number."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)

    def __init__(self, *args, customers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keep"].queryset = customers


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def clean_phone(self):
        from .exceptions import InvalidPhone
        from .phones import normalize_phone

        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ["phone_display", "name", "tier", "balance", "total_spent", "purchase_count",
                    "joined_at", "is_blocked"]
    list_filter = ["tier", "is_blocked", "tags", "consent_messages", "import_batch"]
    search_fields = ["phone", "name", "email"]
    autocomplete_fields = ["tags"]
    readonly_fields = ["uid", "created_at", "joined_at", "total_spent", "purchase_count",
                       "last_purchase_at", "balance", "import_batch", "closed_at", "merged_into",
                       "former_phone"]
    fieldsets = [
        (None, {"fields": ["phone", "name", "email", "birthday", "gender", "source", "tags"]}),
        (_("Program"), {"fields": ["tier", "tier_pinned", "balance", "total_spent",
                                   "purchase_count", "last_purchase_at", "is_blocked",
                                   "consent_messages"]}),
        (_("Record"), {"fields": ["uid", "created_at", "joined_at", "import_batch", "closed_at",
                                  "merged_into", "former_phone"]}),
    ]
    inlines = [OperationInline]
    actions = ["adjust_points", "merge_customers"]
    list_select_related = ["tier"]

    def get_queryset(self, request):
        available = Account.objects.filter(customer=OuterRef("pk"), kind=AccountKind.AVAILABLE)
        return super().get_queryset(request).annotate(
            _balance=Subquery(available.values("balance")[:1],
                              output_field=models.DecimalField(max_digits=14, decimal_places=2))
        )

    @admin.display(description=_("phone"), ordering="phone")
    def phone_display(self, obj):
        return format_phone(obj.phone).replace(" ", "\u00a0")  # one line, as people read it

    @admin.display(description=_("balance"), ordering="_balance")
    def balance(self, obj):
        value = getattr(obj, "_balance", None)
        if value is None and obj.pk:
            value = obj.accounts.get(kind=AccountKind.AVAILABLE).balance
        # SQLite hands a subquery's decimal back as a float-ish Decimal: show it as money.
        return money(value) if value is not None else None

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A closed (merged) record keeps a placeholder phone; its number is in former_phone.
        return [*fields, "phone", "is_blocked"] if obj is not None and obj.closed_at else fields

    def get_search_results(self, request, queryset, search_term):
        """Any spelling of a phone number finds its customer, as at the till."""
        phone = try_normalize_phone(search_term)
        if phone:
            # A closed (merged) record is found by its former number here, never at the till.
            return queryset.filter(Q(phone=phone) | Q(former_phone=phone)), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            from .services.ledger import customer_accounts_create

            customer_accounts_create(customer_id=obj.pk)

    @admin.action(description=_("Adjust points (with a reason)"), permissions=["change"])
    def adjust_points(self, request: HttpRequest, queryset):
        if "apply" in request.POST:
            form = AdjustPointsForm(request.POST)
            if form.is_valid():
                done, failed = 0, []
                for customer in queryset:
                    try:
                        points_adjust(
                            customer=customer, amount=form.cleaned_data["amount"],
                            reason=form.cleaned_data["reason"], author=request.user,
                        )
                        done += 1
                    except LoyaltyError as exc:
                        failed.append(f"{customer.phone}: {exc}")
                if done:
                    self.message_user(
                        request, _("Points adjusted for %(n)d customer(s).") % {"n": done},
                        messages.SUCCESS,
                    )
                for line in failed:
                    self.message_user(request, line, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
        else:
            form = AdjustPointsForm()
        return TemplateResponse(
            request,
            "admin/loyalty/adjust_points.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Adjust points"),
                "form": form,
                "customers": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Merge two customers (one record is closed)"), permissions=["change"])
    def merge_customers(self, request: HttpRequest, queryset):
        """Admin action: merge two selected customers into the one the owner keeps."""
        from .services.merge import customer_merge

        if queryset.count() != 2:
            self.message_user(request, _("Select exactly two customers to merge."), messages.WARNING)
            return None
        form = MergeCustomersForm(request.POST if "apply" in request.POST else None,
                                  customers=queryset)
        if form.is_valid():
            keep = form.cleaned_data["keep"]
            other = queryset.exclude(pk=keep.pk).get()
            try:
                customer_merge(source=other, target=keep, author=request.user,
                               reason=form.cleaned_data["reason"])
            except LoyaltyError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, _("%(other)s was merged into %(keep)s.")
                                  % {"other": other, "keep": keep}, messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        return TemplateResponse(request, "admin/loyalty/merge_customers.html", {
            **self.admin_site.each_context(request), "title": _("Merge customers"), "form": form,
            "customers": queryset, "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ["kind", "source", "destination", "amount", "release_at", "reverses"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["pk", "created_at", "kind", "state", "customer", "branch", "cashier", "total",
                    "points", "cashback", "refunded_total"]
    list_filter = ["kind", "state", "branch"]
    list_select_related = ["customer", "branch", "cashier"]
    search_fields = ["customer__phone", "receipt_number", "request_id"]
    date_hierarchy = "created_at"
    inlines = [EntryInline]
    raw_id_fields = ["customer", "origin", "cashier"]

    def get_search_results(self, request, queryset, search_term):
        phone = try_normalize_phone(search_term)
        if phone:
            return queryset.filter(customer__phone=phone), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "created_at", "kind", "source", "destination", "amount", "operation"]
    list_filter = ["kind"]
    list_select_related = ["source__customer", "destination__customer", "operation"]
    raw_id_fields = ["operation", "source", "destination", "reverses"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["pk", "customer", "kind", "balance"]
    list_filter = ["kind"]
    list_select_related = ["customer"]
    search_fields = ["customer__phone"]


class StaffMemberInline(admin.StackedInline):
    model = StaffMember
    can_delete = True
    extra = 0
    max_num = 1


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, StaffMemberInline]


admin.site.site_header = _("Loyalty program")
admin.site.site_title = _("Loyalty program")
admin.site.index_title = _("Owner's office")

from . import admin_imports  # noqa: E402, F401 - the import screens register themselves
