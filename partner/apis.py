"""The Partner API v2 endpoints: thin views over ``loyalty.services`` and this app's selectors.

Every view authenticates ``companyId:apiKey`` (HTTP Basic), answers JSON in the reference's shapes
(``presenters``), turns every refusal into the reference's error object (``errors``), and stamps
each response with a fresh ``X-Request-Id`` and ``X-Timestamp`` (echoing ``X-Origin-Request-Id``).
"""

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from campaigns.exceptions import CertificateNotActive
from campaigns.models import Certificate
from campaigns.selectors import certificate_find
from loyalty.exceptions import (
    CustomerBlocked,
    CustomerNotFound,
    NotFound,
    OperationNotFound,
    RedeemByPhoneDisabled,
)
from loyalty.models import BusinessSettings, Customer, OperationKind
from loyalty.money import ZERO
from loyalty.phones import normalize_phone
from loyalty.program_cache import program_get
from loyalty.services import (
    customer_get_or_create_by_phone,
    purchase_calculate,
    purchase_create,
    purchase_refund,
)
from loyalty.services.certificates import certificate_check
from referrals.services import referral_program_get

from . import presenters, selectors, serializers
from .authentication import HasApiKey, PartnerKeyAuthentication
from .errors import (
    BadHeader,
    CertificateNeedsCustomer,
    InvalidChecksum,
    NotASale,
    OneIdentifierRequired,
    PaymentCodeNotFound,
    WithdrawNotPermitted,
    partner_exception_handler,
)
from .models import PartnerSettings
from .openapi import ERRORS, ref, request_body
from .outbox import operation_last_saved
from .parsers import PartnerJSONParser
from .services import customer_tags_apply, customer_tags_set, request_id_for, reward_schedule, tags_check


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 in the spellings clients send: ``2016-07-08T13:17:39,245+00:00``, ``...Z``,
    ``...+0300``, with or without fractions; also ``T24:00:00`` (the end of the day: the next
    day's midnight) and a leap second ``:60`` (read as the second before). Raises
    ``ValueError``."""
    value = text.strip().replace(",", ".")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit() and "T" in value:
        value = value[:-2] + ":" + value[-2:]  # +0300 → +03:00
    end_of_day = re.search(r"T24:00(:00(\.0+)?)?(?=[+-]|$)", value)
    if end_of_day:
        value = value[:end_of_day.start()] + "T00:00" + value[end_of_day.end():]
        return datetime.fromisoformat(value) + timedelta(days=1)
    value = re.sub(r"(T\d\d:\d\d):60", r"\1:59", value)
    return datetime.fromisoformat(value)


class JsonNegotiation(DefaultContentNegotiation):
    """The API answers JSON only: for the Accept headers integrations send (none, ``*/*``,
    ``application/json``) that is settled without DRF parsing the header and matching it against
    the renderers on every request; anything else (or a ``?format=``) is negotiated as usual, so an
    Accept the API cannot answer still gets 406."""

    plain = frozenset({"", "*/*", "application/json"})

    def select_renderer(self, request, renderers, format_suffix=None):
        meta = request.META
        override = api_settings.URL_FORMAT_OVERRIDE
        if (len(renderers) == 1 and not format_suffix
                and not (override and f"{override}=" in meta.get("QUERY_STRING", ""))
                and meta.get("HTTP_ACCEPT", "").strip() in self.plain):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class PartnerView(APIView):
    authentication_classes = [PartnerKeyAuthentication]
    permission_classes = [HasApiKey]
    renderer_classes = [JSONRenderer]
    parser_classes = [PartnerJSONParser]
    content_negotiation_class = JsonNegotiation

    def get_exception_handler(self):
        return partner_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        stamp = request.headers.get("X-Timestamp")
        if stamp:
            try:
                parse_timestamp(stamp)
            except ValueError:
                raise BadHeader(header="X-Timestamp") from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-Id"] = str(uuid.uuid4())
        response["X-Timestamp"] = presenters.iso(timezone.now())
        origin = request.headers.get("X-Origin-Request-Id")
        if origin:
            response["X-Origin-Request-Id"] = origin[:200]
        return response

    def body(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class):
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


PAGE_PARAMS = [
    OpenApiParameter("max", int, description="Rows per page, at most 50 (default 10)."),
    OpenApiParameter("offset", int, description="Rows to skip (at most 10000); `cursor` is better."),
    OpenApiParameter("cursor", str, description="The `cursor` of the previous page."),
]


# --- Identifying the customer -------------------------------------------------------------------

@dataclass(frozen=True)
class Who:
    """Who a request names: by ``phone`` (may be a number never seen), by ``uid``, or by the
    ``code`` of a certificate (its owner); ``certificate_code`` is the certificate that pays."""

    via: str  # "phone" | "uid" | "code"
    phone: str = ""
    customer: Customer | None = None
    certificate_code: str | None = None

    @property
    def may_redeem_by_rule(self) -> bool:
        return self.via != "uid"


def _certificate_found(code: str) -> Certificate:
    """The certificate a ``code`` names, or ``notFound`` (payment codes are not issued yet, so a
    code that is no certificate is an invalid payment code)."""
    certificate = certificate_find(code=code)
    if certificate is None:
        raise PaymentCodeNotFound()
    return certificate


def _identify(*, code: str | None, phone: str | None, uid: str | None, lookup_phone) -> Who:
    """Exactly one of ``code``/``phone``/``uid`` — except that a certificate's ``code`` may come
    with one participant identifier (the certificate then pays for that customer's sale)."""
    code = code.strip() if code and code.strip() else None
    given = [(name, value.strip()) for name, value in (("phone", phone), ("uid", uid))
             if value and value.strip()]
    if len(given) > 1 or (code is None and not given):
        raise OneIdentifierRequired()
    if code is not None:
        if given and certificate_find(code=code) is None:
            raise OneIdentifierRequired()  # a payment code and a participant: two customers
        certificate = _certificate_found(code)
        if not given:
            if certificate.customer_id is None:
                raise CertificateNeedsCustomer()
            customer = selectors.customer_get(customer_id=certificate.customer_id)
            return Who(via="code", customer=customer, certificate_code=certificate.code)
        who = _identify(code=None, phone=phone, uid=uid, lookup_phone=lookup_phone)
        return replace(who, certificate_code=certificate.code)
    via, value = given[0]
    if via == "uid":
        customer = selectors.customer_get_by_uid(uid=value)
        if customer is None:
            raise CustomerNotFound()
        return Who(via="uid", customer=customer)
    normalized = normalize_phone(value)
    return Who(via="phone", phone=normalized, customer=lookup_phone(normalized))


def _calculate(who: Who, *, program: BusinessSettings, total, excluded, unredeemable, points):
    """``purchase_calculate`` with the API's rules: a uid never redeems, a phone only if allowed."""
    if who.customer is not None and who.customer.is_blocked:
        raise CustomerBlocked()
    # A certificate's code is no payment code: the customer's own points follow the phone rule.
    may_redeem = who.may_redeem_by_rule and program.redeem_by_phone
    if points is not None and points > 0 and not may_redeem:
        raise WithdrawNotPermitted() if who.via == "uid" else RedeemByPhoneDisabled()
    calc = purchase_calculate(
        customer=who.customer, total=total, excluded_total=excluded or ZERO,
        unredeemable_total=unredeemable or ZERO, points=points if may_redeem else ZERO,
        certificate_code=who.certificate_code,
    )
    if not may_redeem:
        calc = replace(calc, max_points=ZERO)
    return calc


def _user_out(who: Who, program: BusinessSettings) -> dict:
    if who.customer is not None:
        return presenters.customer_out(who.customer, program=program)
    tiers = program_get().tiers
    return presenters.stranger_out(phone=who.phone, tier=tiers[0] if tiers else None)


# --- Settings -----------------------------------------------------------------------------------

class SettingsApi(PartnerView):
    @extend_schema(operation_id="settings", summary="Get company settings", tags=["Settings"],
                   responses={200: ref("CompanySettings"), **ERRORS})
    def get(self, request):
        referral = referral_program_get()
        return Response(presenters.settings_out(
            company_id=PartnerSettings.load().company_id, program=program_get().settings,
            tiers=list(program_get().tiers), referral_rates=referral.levels_percent,
            referral_reward=referral.first_purchase_bonus,
        ))


# --- Customers ----------------------------------------------------------------------------------

class CustomerListApi(PartnerView):
    @extend_schema(
        operation_id="customers_list", summary="List of customers", tags=["Customers"],
        parameters=PAGE_PARAMS,
        responses={200: {"type": "object", "properties": {
            "rows": {"type": "array", "items": ref("CustomerDetail")},
            "cursor": {"type": "string", "nullable": True},
        }}, **ERRORS},
    )
    def get(self, request):
        page = self.query(serializers.PageIn)
        rows, cursor = selectors.customer_page(limit=page["max"], offset=page["offset"],
                                               cursor=page.get("cursor") or None)
        program = program_get().settings
        return Response({"rows": [presenters.customer_out(c, program=program) for c in rows],
                         "cursor": cursor})


class CustomerFindApi(PartnerView):
    @extend_schema(
        operation_id="customers_find", summary="Find customer", tags=["Customers"],
        parameters=[
            OpenApiParameter("code", str, description="Payment code, or a certificate's code "
                             "(`type: CERTIFICATE`)."),
            OpenApiParameter("phone", str, description="Phone number, E.164 (`%2b79123456789`)."),
            OpenApiParameter("uid", str, description="Customer uid."),
            OpenApiParameter("exchangeCode", bool, description="Exchange the payment code for a "
                             "24-hour one (no codes yet: always null)."),
            OpenApiParameter("total", float, description="Bill total: adds `purchase`."),
            OpenApiParameter("skipLoyaltyTotal", float, description="Part of the bill outside "
                             "the program."),
            OpenApiParameter("unredeemableTotal", float, description="Part of the bill that "
                             "cannot be paid with points."),
        ],
        responses={200: {"type": "object", "properties": {
            "user": ref("CustomerDetail"),
            "code": {"type": "string", "nullable": True},
            "type": ref("PurchaseTokenAction"),
            "purchase": {"allOf": [ref("PurchaseCalc")], "nullable": True},
            "certificate": {"type": "object", "description": "Ours: the certificate a `code` "
                            "named (`type: CERTIFICATE`).", "properties": {
                                "code": {"type": "string"}, "points": {"type": "number"},
                                "maxScoresDiscount": {"type": "number"},
                                "validUntil": {"type": "string", "format": "date"},
                                "customerId": {"type": "integer", "nullable": True}}},
        }}, **ERRORS},
    )
    def get(self, request):
        q = self.query(serializers.FindIn)
        code_only = bool((q.get("code") or "").strip()) and not any(
            (q.get(name) or "").strip() for name in ("phone", "uid"))
        if code_only:
            # A certificate's code finds its owner; a gift certificate (nobody's) finds no one.
            found = _certificate_found(q["code"])
            who = Who(via="code", certificate_code=found.code, customer=(
                selectors.customer_get(customer_id=found.customer_id) if found.customer_id else None))
        else:
            who = _identify(code=q.get("code"), phone=q.get("phone"), uid=q.get("uid"),
                            lookup_phone=lambda phone: selectors.customer_get_by_phone(phone=phone))
            if who.customer is None:
                raise CustomerNotFound()
        certificate = None
        if who.certificate_code:
            # Used, cancelled, expired or not yet valid: the reference's "code expired" (notFound).
            certificate = certificate_check(code=who.certificate_code, customer=who.customer,
                                            lock=False)
        program = program_get().settings
        purchase = None
        if q.get("total") is not None:
            purchase = presenters.calc_out(_calculate(
                who, program=program, total=q["total"], excluded=q.get("skipLoyaltyTotal"),
                unredeemable=q.get("unredeemableTotal"), points=None,
            ))
        body = {"code": None, "purchase": purchase}
        if who.customer is not None:
            body["user"] = presenters.customer_out(who.customer, program=program)
        if certificate is not None:
            body["type"] = "CERTIFICATE"
            body["certificate"] = presenters.certificate_out(certificate)
        return Response(body)


def _customer_or_404(customer_id: int) -> Customer:
    customer = selectors.customer_get(customer_id=customer_id)
    if customer is None:
        raise CustomerNotFound()
    return customer


class CustomerDetailApi(PartnerView):
    @extend_schema(operation_id="customers_get", summary="Get customer information",
                   tags=["Customers"], responses={200: ref("CustomerDetail"), **ERRORS})
    def get(self, request, id: int):  # noqa: A002 - the reference names the path parameter id
        customer = _customer_or_404(id)
        return Response(presenters.customer_out(customer, program=program_get().settings))


TAG_LIST = {"type": "object", "properties": {
    "rows": {"type": "array", "items": ref("TagModel")}, "total": {"type": "integer"},
}}


class CustomerTagsApi(PartnerView):
    @extend_schema(operation_id="customers_tags_get", summary="Customer tags", tags=["Customers"],
                   responses={200: TAG_LIST, **ERRORS})
    def get(self, request, id: int):  # noqa: A002
        customer = _customer_or_404(id)
        rows = [presenters.tag_out(t) for t in sorted(customer.tags.all(), key=lambda t: t.pk)]
        return Response({"rows": rows, "total": len(rows)})

    @extend_schema(
        operation_id="customers_tags_set", summary="Set customer tags", tags=["Customers"],
        request=request_body({"type": "object", "required": ["ids"], "properties": {
            "ids": {"type": "array", "items": ref("TagId")}}}),
        responses={200: TAG_LIST, **ERRORS},
    )
    def post(self, request, id: int):  # noqa: A002
        customer = _customer_or_404(id)
        data = self.body(serializers.TagsIn)
        tags = customer_tags_set(customer=customer, tag_ids=data["ids"])
        rows = [presenters.tag_out(t) for t in tags]
        return Response({"rows": rows, "total": len(rows)})


class TagListApi(PartnerView):
    @extend_schema(operation_id="tags_list", summary="List of company tags", tags=["Tags"],
                   responses={200: TAG_LIST, **ERRORS})
    def get(self, request):
        rows = [presenters.tag_out(t) for t in selectors.tags_all()]
        return Response({"rows": rows, "total": len(rows)})


# --- Operations ---------------------------------------------------------------------------------

class OperationCalcApi(PartnerView):
    @extend_schema(operation_id="operations_calc", summary="Calculate transaction information",
                   tags=["Operations"], request=request_body(ref("PurchaseCalcRequest")),
                   responses={200: ref("PurchaseCalcResponse"), **ERRORS})
    def post(self, request):
        data = self.body(serializers.CalcIn)
        participant = data.get("participant") or {}
        who = _identify(code=data.get("code"), phone=participant.get("phone"),
                        uid=participant.get("uid"),
                        lookup_phone=lambda phone: selectors.customer_get_by_phone(phone=phone))
        receipt = data["receipt"]
        program = program_get().settings
        calc = _calculate(who, program=program, total=receipt["total"],
                          excluded=receipt.get("skipLoyaltyTotal"),
                          unredeemable=receipt.get("unredeemableTotal"), points=receipt.get("points"))
        return Response({"user": _user_out(who, program), "purchase": presenters.calc_out(calc)})


def _operation_response(operation_id: int) -> Response:
    operation = selectors.operation_get(operation_id=operation_id)
    if operation is None:
        raise OperationNotFound()
    return Response(presenters.operation_out(operation))


class OperationListApi(PartnerView):
    @extend_schema(
        operation_id="operations_list", summary="List of transactions", tags=["Operations"],
        parameters=PAGE_PARAMS,
        responses={200: {"type": "object", "properties": {
            "rows": {"type": "array", "items": ref("Operation")},
            "total": {"type": "integer"},
            "cursor": {"type": "string", "nullable": True},
        }}, **ERRORS},
    )
    def get(self, request):
        page = self.query(serializers.PageIn)
        rows, cursor = selectors.operation_page(limit=page["max"], offset=page["offset"],
                                                cursor=page.get("cursor") or None)
        # The reference always answers total = 0 here ("to optimise the request speed").
        return Response({"rows": [presenters.operation_out(op) for op in rows], "total": 0,
                         "cursor": cursor})

    @extend_schema(operation_id="operations_create", summary="Create transaction",
                   tags=["Operations"], request=request_body(ref("CreateOperation")),
                   responses={200: ref("Operation"), **ERRORS})
    def post(self, request):
        data = serializers.create_operation_in(request.data)
        key = request.auth
        participant = data.get("participant") or {}
        who = _identify(code=data.get("code"), phone=participant.get("phone"),
                        uid=participant.get("uid"), lookup_phone=(
                            (lambda phone: selectors.customer_get_by_phone(phone=phone))
                            if data.get("code") else (lambda phone: None)))
        receipt = data["receipt"]
        if who.via == "uid" and receipt["points"] > 0:
            raise WithdrawNotPermitted()
        request_id = request_id_for(
            api_key_id=key.pk,
            client_key=data.get("nonce") or request.headers.get("X-Origin-Request-Id"),
        )
        # A retried certificate sale is answered by the service from the first one (the
        # certificate is used by then, the balance may have moved): no checks before it.
        replaying = bool(who.certificate_code) and selectors.operation_request_exists(
            request_id=request_id)
        certificate_points = ZERO
        if who.certificate_code and not replaying:
            # The certificate pays its share on top of ``points``: cash = total − points − that.
            try:
                certificate_points = purchase_calculate(
                    customer=who.customer, total=receipt["total"],
                    excluded_total=receipt.get("skipLoyaltyTotal") or ZERO,
                    unredeemable_total=receipt.get("unredeemableTotal") or ZERO,
                    points=receipt["points"], certificate_code=who.certificate_code,
                ).certificate_points
            except CertificateNotActive:
                # The first attempt committed meanwhile: used by this very sale.
                if not selectors.operation_request_exists(request_id=request_id):
                    raise
                replaying = True
        expected = receipt["total"] - receipt["points"] - certificate_points
        if not replaying and receipt["cash"] != expected:
            raise InvalidChecksum(expected=expected)
        # Checked before anything is written: a sale refused for an unknown tag books nothing.
        tags = tags_check(tag_ids=data["tags"]) if data.get("tags") is not None else None
        customer = who.customer
        if customer is None:
            customer = selectors.customer_for_sale(phone=who.phone)
        if customer is None:
            # A sale to a number nobody registered yet accrues to that number.
            customer, _created = customer_get_or_create_by_phone(phone=who.phone)
        cashier = data.get("cashier") or {}
        result = purchase_create(
            customer=customer, branch=key.branch, total=receipt["total"],
            excluded_total=receipt.get("skipLoyaltyTotal") or ZERO,
            unredeemable_total=receipt.get("unredeemableTotal") or ZERO,
            points=receipt["points"], receipt_number=receipt.get("number") or "",
            request_id=request_id, cashier_external_id=cashier.get("external_id", ""),
            cashier_name=cashier.get("name") or "",
            certificate_code=who.certificate_code,
        )
        if tags is not None and not result.replayed:
            customer_tags_apply(customer=customer, tags=tags)
        # A new sale is answered from the row the service saved (no read back); a replay reads it.
        operation = None if result.replayed else operation_last_saved(operation_id=result.operation_id)
        if operation is None:
            operation = selectors.operation_just_written(operation_id=result.operation_id,
                                                         branch=key.branch)
        return Response(presenters.operation_out(operation,
                                                 certificate_points=result.certificate_points))


class OperationDetailApi(PartnerView):
    @extend_schema(operation_id="operations_get", summary="Get transaction information",
                   tags=["Operations"], responses={200: ref("Operation"), **ERRORS})
    def get(self, request, id: int):  # noqa: A002
        return _operation_response(id)


class OperationRefundApi(PartnerView):
    @extend_schema(
        operation_id="operations_refund", summary="Refund transaction", tags=["Operations"],
        request=request_body({"type": "object", "properties": {
            "partialAmount": {"type": "number", "nullable": True}}}),
        responses={200: ref("Operation"), **ERRORS},
    )
    def post(self, request, id: int):  # noqa: A002
        data = self.body(serializers.RefundIn)
        original = selectors.operation_get(operation_id=id)
        if original is None:
            raise OperationNotFound()
        if original.kind != OperationKind.PURCHASE:
            raise NotASale(id=original.pk)
        key = request.auth
        result = purchase_refund(
            operation_id=original.pk, amount=data.get("partialAmount"), branch=key.branch,
            request_id=request_id_for(api_key_id=key.pk, scope="refund:",
                                      client_key=request.headers.get("X-Origin-Request-Id")),
        )
        return _operation_response(result.operation_id)


class OperationRewardApi(PartnerView):
    @extend_schema(
        operation_id="operations_reward", summary="Rewarding users with points (gift)",
        tags=["Operations"],
        request=request_body({"type": "object", "required": ["points", "participants"], "properties": {
            "points": {"type": "number"},
            "comment": {"type": "string", "nullable": True},
            "participants": {"type": "array", "items": {"type": "string"}},
            "silent": {"type": "boolean", "nullable": True},
        }}),
        responses={202: {"type": "object", "properties": {"accepted": {"type": "string"}}},
                   **ERRORS},
    )
    def post(self, request):
        data = self.body(serializers.RewardIn)
        key = request.auth
        customer_ids = selectors.customer_ids_existing(ids=data["participants"])
        # Without X-Origin-Request-Id a repeated request is a new reward; with it, the same one.
        client_key = request.headers.get("X-Origin-Request-Id") or str(uuid.uuid4())
        accepted = reward_schedule(
            customer_ids=customer_ids, points=data["points"], comment=data.get("comment") or "",
            base_request_id=request_id_for(api_key_id=key.pk, client_key=client_key, scope="reward:"),
        )
        return Response({"accepted": str(accepted)}, status=202)


class NotFoundApi(PartnerView):
    """Goods, goods orders, image upload and any other path: not here (yet)."""

    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise NotFound()

    get = post = put = patch = delete = _not_found
