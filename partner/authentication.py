"""HTTP Basic ``companyId:apiKey``, as the reference's integrations send it.

A key is found by its SHA-256 digest (unique index; active keys are kept per process for a few
seconds, see ``selectors.api_key_active``); the company id must be ours and the key not revoked. The
authenticated "user" is the ``ApiKey`` itself (``request.auth``); there is no Django user behind an
integration.
"""

import base64
import binascii

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from .models import ApiKey, PartnerSettings, api_key_digest
from .selectors import api_key_active
from .services import api_key_touch


def api_key_from_basic(header: str) -> ApiKey | None:
    """The active key named by an ``Authorization: Basic ...`` value, or None."""
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    company, sep, raw_key = decoded.partition(":")
    company = company.strip()
    if not sep or not raw_key or not company.isdigit() or len(company) > 18:
        return None
    if int(company) != company_id():
        return None
    return api_key_active(digest=api_key_digest(raw_key))


_company_id: int | None = None


def company_id() -> int:
    """Our company id, read once per process: it is made once and never changes."""
    global _company_id
    if _company_id is None:
        _company_id = PartnerSettings.load().company_id
    return _company_id


def company_id_forget(**_kwargs) -> None:
    """For tests that flush the database (a new PartnerSettings row gets a new id)."""
    global _company_id
    _company_id = None


class PartnerKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = api_key_from_basic(header)
        if key is None:
            raise exceptions.AuthenticationFailed()
        api_key_touch(api_key=key)
        return (None, key)

    def authenticate_header(self, request):
        return 'Basic realm="partner"'


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated()
        return True


class PartnerKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "partner.authentication.PartnerKeyAuthentication"
    name = "Basic"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "HTTP Basic with `companyId:apiKey` (see docs/partner_api.md).",
        }
