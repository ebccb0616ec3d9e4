"""Keys, headers, languages and the paths that are not here: what every endpoint shares."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from partner.models import ApiKey, PartnerSettings
from partner.services import api_key_create, api_key_revoke
from tests.partner.conftest import basic

pytestmark = pytest.mark.django_db


def test_a_request_without_credentials_is_401_unauthorized(anonymous):
    response = anonymous.get("/partner/v2/settings")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("credentials", [
    "{company}:not-the-key",
    "1:{key}",
    "{company}",
    "not-a-number:{key}",
])
def test_a_wrong_key_or_company_id_is_401_unauthorized(anonymous, new_key, credentials):
    text = credentials.format(company=new_key.company_id, key=new_key.raw_key)
    anonymous.credentials(HTTP_AUTHORIZATION=basic(text))
    response = anonymous.get("/partner/v2/settings")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer abc", "Basic !!!not-base64", "Basic"])
def test_a_malformed_authorization_header_is_401(anonymous, header):
    anonymous.credentials(HTTP_AUTHORIZATION=header)
    assert anonymous.get("/partner/v2/settings").status_code == 401


def test_a_revoked_key_stops_working_at_once(api, new_key):
    assert api.get("/partner/v2/settings").status_code == 200
    api_key_revoke(api_key=new_key.api_key)
    assert api.get("/partner/v2/settings").status_code == 401


def test_the_key_is_stored_hashed_and_its_last_use_recorded(api, new_key):
    key = ApiKey.objects.get()
    assert new_key.raw_key not in (key.digest, key.prefix) and len(key.digest) == 64
    assert key.last_used_at is None
    api.get("/partner/v2/settings")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(api, new_key, django_assert_num_queries,
                                                   settings):
    settings.PROGRAM_CACHE_SECONDS = 0  # no cached key: every request reads it
    api.get("/partner/v2/tags")
    # when the key is used again within the minute, then only the lookup and the tags are read
    with django_assert_num_queries(2):
        api.get("/partner/v2/tags")
    ApiKey.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(3):
        api.get("/partner/v2/tags")


def test_a_key_used_again_within_seconds_costs_no_query(api, new_key, django_assert_num_queries):
    # given the key was used once (read, and its last use written)
    api.get("/partner/v2/tags")
    # then the next requests of the process read only what they answer
    with django_assert_num_queries(1):
        api.get("/partner/v2/tags")


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_seconds(
        api, new_key, settings, monkeypatch):
    import time

    settings.PROGRAM_CACHE_SECONDS = 5
    assert api.get("/partner/v2/tags").status_code == 200
    # when another process revokes it (no signal reaches this one)
    ApiKey.objects.update(revoked_at=timezone.now())
    # then it still works here for those seconds at most, and not after them
    later = time.monotonic() + 5.1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert api.get("/partner/v2/tags").status_code == 401


def test_a_key_revoked_in_admin_or_saved_is_dropped_from_the_cache(api, new_key):
    assert api.get("/partner/v2/tags").status_code == 200
    key = ApiKey.objects.get()
    key.revoked_at = timezone.now()
    key.save()
    assert api.get("/partner/v2/tags").status_code == 401


def test_a_wrong_key_is_never_cached(anonymous, new_key):
    from partner import selectors

    anonymous.credentials(HTTP_AUTHORIZATION=basic(f"{new_key.company_id}:not-the-key"))
    assert anonymous.get("/partner/v2/tags").status_code == 401
    assert list(selectors._keys) == []


def test_every_response_has_a_fresh_request_id_and_timestamp_and_echoes_the_origin_id(api, anonymous):
    first = api.get("/partner/v2/settings", HTTP_X_ORIGIN_REQUEST_ID="8c828ee7-e7b2-4631")
    second = api.get("/partner/v2/settings")
    assert first["X-Origin-Request-Id"] == "8c828ee7-e7b2-4631"
    assert "X-Origin-Request-Id" not in second
    assert first["X-Request-Id"] != second["X-Request-Id"]
    assert first["X-Timestamp"].endswith("Z") and "T" in first["X-Timestamp"]
    # errors too
    refused = anonymous.get("/partner/v2/settings", HTTP_X_ORIGIN_REQUEST_ID="r-1")
    assert refused["X-Request-Id"] and refused["X-Origin-Request-Id"] == "r-1"


@pytest.mark.parametrize("stamp", [
    "2016-07-08T13:17:39,245+00:00",  # the reference's own example: comma before milliseconds
    "2016-07-08T13:17:39.245Z",
    "2016-07-08T13:17:39Z",
    "2016-07-08T16:17:39+03:00",
    "2016-07-08T16:17:39+0300",
    "2016-07-08T13:17:39.245123",
    "2016-07-08T24:00:00Z",  # the end of the day
    "2016-12-31T23:59:60Z",  # a leap second
])
def test_x_timestamp_is_read_in_any_sane_iso_8601_spelling(api, stamp):
    assert api.get("/partner/v2/settings", HTTP_X_TIMESTAMP=stamp).status_code == 200


def test_the_end_of_the_day_and_a_leap_second_read_as_the_instants_they_name():
    from datetime import UTC, datetime

    from partner.apis import parse_timestamp

    assert parse_timestamp("2016-07-08T24:00:00Z") == datetime(2016, 7, 9, tzinfo=UTC)
    assert parse_timestamp("2016-07-08T24:00+03:00").isoformat() == "2016-07-09T00:00:00+03:00"
    assert parse_timestamp("2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_timestamp("2016-07-08T24:30:00Z")


def test_an_unreadable_x_timestamp_is_bad_request(api):
    response = api.get("/partner/v2/settings", HTTP_X_TIMESTAMP="yesterday")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "badRequest"
    assert "errors" in response.json()


def test_accept_language_picks_the_language_of_the_message(api):
    english = api.get("/partner/v2/customers/999", HTTP_ACCEPT_LANGUAGE="en").json()
    russian = api.get("/partner/v2/customers/999", HTTP_ACCEPT_LANGUAGE="ru").json()
    assert english == {"errorCode": "notFound", "message": "Customer not found."}
    assert russian == {"errorCode": "notFound", "message": "Клиент не найден."}


@pytest.mark.parametrize("method,path", [
    ("get", "/partner/v2/goods"),
    ("post", "/partner/v2/goods"),
    ("get", "/partner/v2/goods/1"),
    ("put", "/partner/v2/goods/external/abc"),
    ("get", "/partner/v2/goods-orders/1"),
    ("post", "/partner/v2/goods-orders/1/complete"),
    ("post", "/partner/v2/image-upload-url"),
    ("post", "/partner/v2/operations/voucher"),
    ("get", "/partner/v2/no-such-thing"),
])
def test_goods_and_other_missing_paths_answer_404_not_found(api, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 404
    assert response.json()["errorCode"] == "notFound"


def test_createapikey_prints_company_id_and_key_as_its_last_line(branch, anonymous):
    out = io.StringIO()
    call_command("createapikey", "--branch", "Central", stdout=out, stderr=io.StringIO())
    last = out.getvalue().strip().splitlines()[-1]
    company, key = last.split(":", 1)
    assert int(company) == PartnerSettings.load().company_id
    anonymous.credentials(HTTP_AUTHORIZATION=basic(last))
    assert anonymous.get("/partner/v2/settings").status_code == 200
    assert ApiKey.objects.get().branch == branch


def test_createapikey_refuses_an_unknown_branch(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("createapikey", "--branch", "Nowhere", stdout=io.StringIO())


def test_admin_shows_a_new_key_once_and_revokes_it(admin_user, branch):
    # given the owner in Admin
    client = Client()
    client.force_login(admin_user)
    # when he adds a key for the branch
    response = client.post("/admin/partner/apikey/add/", {"name": "1C", "branch": branch.pk},
                           follow=True)
    # then the page shows COMPANY_ID:KEY once, and that key works
    text = response.content.decode()
    company = PartnerSettings.load().company_id
    start = text.index(f"{company}:")
    credentials = text[start:].split("<")[0].split()[0]
    assert ApiKey.objects.get().name == "1C"
    api = Client(HTTP_AUTHORIZATION=basic(credentials))
    assert api.get("/partner/v2/settings").status_code == 200
    assert f"{company}:" not in client.get("/admin/partner/apikey/").content.decode()
    # when he revokes it, then it stops working
    key = ApiKey.objects.get()
    client.post("/admin/partner/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert api.get("/partner/v2/settings").status_code == 401


def test_admin_pages_for_webhooks_and_attempts_open(admin_user):
    client = Client()
    client.force_login(admin_user)
    for url in ["/admin/partner/webhookendpoint/", "/admin/partner/webhookendpoint/add/",
                "/admin/partner/webhookdelivery/", "/admin/partner/webhookattempt/",
                "/admin/partner/partnersettings/"]:
        assert client.get(url).status_code == 200, url


def test_a_key_made_by_the_service_authenticates(anonymous, branch):
    new = api_key_create(name="shop", branch=branch)
    anonymous.credentials(HTTP_AUTHORIZATION=basic(new.credentials))
    assert anonymous.get("/partner/v2/tags").json() == {"rows": [], "total": 0}


@pytest.mark.parametrize("accept", ["", "*/*", "application/json", " application/json ",
                                    "application/json; charset=utf-8", "text/html, */*;q=0.8"])
def test_any_accept_that_takes_json_gets_json(api, accept):
    response = api.get("/partner/v2/settings", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "name" in response.json()


def test_an_accept_the_api_cannot_answer_is_406_and_a_format_it_has_not_is_404(api):
    response = api.get("/partner/v2/settings", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response.json()["errorCode"] == "notAcceptable"
    response = api.get("/partner/v2/settings?format=xml")
    assert response.status_code == 404
    assert response.json()["errorCode"] == "notFound"
