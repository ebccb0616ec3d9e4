"""Webhooks: outbox row in the sale's transaction, signed POST after commit, retries, attempts.

The receiver is a stub ``http.server`` on 127.0.0.1 (no outside network).
"""

import hashlib
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from loyalty.services import customer_register
from partner import webhooks
from partner.models import (
    DeliveryStatus,
    PartnerSettings,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self):
        self.requests, self.status = [], 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v2/events/operation"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    stub = Receiver()
    yield stub
    stub.close()


@pytest.fixture
def endpoint(db, receiver):
    return WebhookEndpoint.objects.create(event=WebhookEvent.OPERATION, url=receiver.url,
                                          signing_key="secret-key")


def sale(phone="+79160000001", **extra):
    return {"participant": {"phone": phone}, "receipt": {"total": 100, "cash": 100, "points": 0},
            **extra}


def test_the_signature_is_the_reference_example():
    # the reference: echo -n 'bf7d…b3' '2018-10-22T13:52:46,769Z' '123456' 'ZWY5…Cg==' | md5sum
    assert webhooks.signature(
        request_id="bf7d19b0-8e3c-4d55-98ba-2783915957b3", timestamp="2018-10-22T13:52:46,769Z",
        company_id=123456, key="ZWY5ZmI4ZjQtNTgxMC00M2M3LWE2YTYtZGVhMDRmZTAwNzQxCg==",
    ) == "dc8d4416d3e01a40fd10f1c7bf3f4754"


def test_a_sale_is_posted_signed_after_commit(api, tiers, endpoint, receiver, on_commit):
    # when a sale is made through the API
    with on_commit(execute=True) as callbacks:
        created = api.post("/partner/v2/operations", sale(), format="json").json()
        # then nothing has been posted before commit
        assert receiver.requests == []
    assert len(callbacks) == 1
    # then after commit the receiver got the operation, signed as the reference describes
    [(headers, body)] = receiver.requests
    assert body == created
    company = PartnerSettings.load().company_id
    expected = hashlib.md5(
        f"{headers['X-Request-Id']}{headers['X-Timestamp']}{company}secret-key".encode(),
        usedforsecurity=False,
    ).hexdigest()
    assert headers["X-Signature"] == expected
    assert "," in headers["X-Timestamp"] and headers["X-Timestamp"].endswith("Z")
    delivery = WebhookDelivery.objects.get()
    assert str(delivery.request_id) == headers["X-Request-Id"]
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempt_count == 1
    assert WebhookAttempt.objects.get().status_code == 200


def test_a_sale_from_the_till_is_posted_too(tiers, branch, endpoint, receiver, on_commit):
    from loyalty.services import purchase_create
    from tests.factories import customer_create

    with on_commit(execute=True):
        purchase_create(customer=customer_create(), branch=branch, total=10)
    assert len(receiver.requests) == 1 and receiver.requests[0][1]["action"] == "PURCHASE"


def test_a_refund_is_posted_as_a_reversal(api, tiers, endpoint, receiver, on_commit):
    with on_commit(execute=True):
        created = api.post("/partner/v2/operations", sale(), format="json").json()
    with on_commit(execute=True):
        api.post(f"/partner/v2/operations/{created['id']}/refund", {}, format="json")
    assert [body["state"] for _h, body in receiver.requests] == ["NORMAL", "REVERSAL"]
    assert receiver.requests[1][1]["origin"] == {"id": created["id"]}


def test_a_refused_sale_leaves_no_webhook(api, tiers, endpoint, receiver, on_commit):
    with on_commit(execute=True):
        response = api.post("/partner/v2/operations", sale(receipt={
            "total": 100, "cash": 0, "points": 100}), format="json")
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


def test_no_endpoint_no_outbox_row(api, tiers, on_commit):
    with on_commit(execute=True):
        api.post("/partner/v2/operations", sale(), format="json")
    assert not WebhookDelivery.objects.exists()


def test_a_switched_off_endpoint_gets_nothing(api, tiers, endpoint, receiver, on_commit):
    WebhookEndpoint.objects.update(is_active=False)
    with on_commit(execute=True):
        api.post("/partner/v2/operations", sale(), format="json")
    assert not WebhookDelivery.objects.exists()


def test_a_registration_is_posted_as_a_new_participant(receiver, tiers, on_commit):
    WebhookEndpoint.objects.create(event=WebhookEvent.PARTICIPANT, url=receiver.url)
    with on_commit(execute=True):
        customer = customer_register(phone="+79160000077", name="Ivan")
    [(_headers, body)] = receiver.requests
    assert body["id"] == customer.pk and body["displayName"] == "Ivan"
    assert body["phone"] == "+79160000077" and body["membershipTier"]["name"] == "Base"


def test_a_receiver_down_for_an_hour_still_gets_the_event(api, tiers, endpoint, receiver, on_commit):
    # given the receiver answers 503 for the first hour
    receiver.status = 503
    with on_commit(execute=True):
        api.post("/partner/v2/operations", sale(), format="json")
    delivery = WebhookDelivery.objects.get()
    start = delivery.created_at
    # when the minute-by-minute sweep runs through that hour
    for minute in range(0, 61):
        now = start + timedelta(minutes=minute, seconds=1)
        for delivery_id in webhooks.deliveries_due(now=now):
            webhooks.delivery_send(delivery_id=delivery_id, now=now)
    delivery.refresh_from_db()
    failed_so_far = delivery.attempt_count
    assert delivery.status == DeliveryStatus.PENDING and failed_so_far == 5  # 0, 1, 6, 21, 51 min
    # and the receiver is back after the hour
    receiver.status = 200
    for minute in range(61, 180):
        now = start + timedelta(minutes=minute, seconds=1)
        for delivery_id in webhooks.deliveries_due(now=now):
            webhooks.delivery_send(delivery_id=delivery_id, now=now)
    # then it got the event, once, and every attempt is on record
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [a.status_code for a in delivery.attempts.order_by("started_at")] == [503] * 5 + [200]
    assert len(receiver.requests) == 6 and len({h["X-Request-Id"] for h, _b in receiver.requests}) == 1


def test_an_unreachable_receiver_is_recorded_and_given_up_after_the_last_attempt(tiers, on_commit):
    endpoint = WebhookEndpoint.objects.create(event=WebhookEvent.OPERATION,
                                              url="http://127.0.0.1:9/nothing-listens-here")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="operation", payload={},
                                              request_id="bf7d19b0-8e3c-4d55-98ba-2783915957b3",
                                              next_attempt_at=timezone.now())
    now = timezone.now()
    for _ in range(webhooks.MAX_ATTEMPTS + 2):
        webhooks.delivery_send(delivery_id=delivery.pk, now=now)
        now += timedelta(days=1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts.count() == webhooks.MAX_ATTEMPTS
    assert all(a.status_code is None and a.error for a in delivery.attempts.all())


def test_a_delivery_being_sent_is_not_sent_again_by_another_worker(endpoint, receiver):
    receiver.status = 500
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="operation", payload={},
                                              request_id="bf7d19b0-8e3c-4d55-98ba-2783915957b4",
                                              next_attempt_at=timezone.now())
    now = timezone.now()
    assert webhooks.delivery_send(delivery_id=delivery.pk, now=now) is not None
    assert webhooks.delivery_send(delivery_id=delivery.pk, now=now) is None
    assert len(receiver.requests) == 1


def test_the_retry_sweep_is_scheduled_in_beat(db):
    from django_celery_beat.models import PeriodicTask

    from partner.tasks import RETRY_TASK_NAME

    assert PeriodicTask.objects.get(name=RETRY_TASK_NAME).task == "partner.webhooks_retry_due"


def test_the_sweep_task_sends_what_is_due(endpoint, receiver):
    from partner.tasks import webhooks_retry_due

    WebhookDelivery.objects.create(endpoint=endpoint, event="operation", payload={"a": 1},
                                   request_id="bf7d19b0-8e3c-4d55-98ba-2783915957b5",
                                   next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert webhooks_retry_due() == 1
    assert receiver.requests[0][1] == {"a": 1}


def test_a_listened_sale_writes_its_outbox_row_with_its_last_statement(tiers, branch, endpoint):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.services import purchase_create
    from tests.factories import customer_create

    customer = customer_create()
    purchase_create(customer=customer, branch=branch, total=10)  # warm caches
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    webhooks.endpoint_cache_clear()
    purchase_create(customer=customer, branch=branch, total=10)  # "nobody listens" cached
    with CaptureQueriesContext(connection) as quiet:
        purchase_create(customer=customer, branch=branch, total=10)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=True)
    webhooks.endpoint_cache_clear()
    purchase_create(customer=customer, branch=branch, total=10)  # endpoint ids cached again
    with CaptureQueriesContext(connection) as listened:
        purchase_create(customer=customer, branch=branch, total=10)
    # On PostgreSQL the row goes with the sale's last statement; elsewhere it is one more.
    assert len(listened) == len(quiet) + (0 if connection.vendor == "postgresql" else 1)
    assert not any("partner_" in q["sql"] for q in quiet.captured_queries)
    assert sum("partner_webhookdelivery" in q["sql"] for q in listened.captured_queries) == 1
    assert WebhookDelivery.objects.filter(operation__customer=customer).count() == 3


# --- The body is the operation as GET /operations/{id} shows it -----------------------------------

def test_a_certificate_sale_is_posted_as_get_shows_it_with_its_certificate_points(
        api, tiers, endpoint, receiver, on_commit):
    from decimal import Decimal

    from loyalty.services import points_adjust
    from tests.campaigns.factories import certificate_make
    from tests.factories import customer_create

    # given a customer with 500 points and a 200-point certificate of his
    anna = customer_create(phone="+79160000001", name="Anna")
    points_adjust(customer=anna, amount=500, reason="gift")
    certificate = certificate_make(points=Decimal(200), customer=anna)
    # when he pays 1000 with 100 of his points and the certificate
    with on_commit(execute=True):
        created = api.post("/partner/v2/operations", {
            "code": certificate.code, "receipt": {"total": 1000, "cash": 700, "points": 100}},
            format="json").json()
    # then the webhook's body is the operation as GET shows it, certificate points included
    [(_headers, body)] = receiver.requests
    fetched = api.get(f"/partner/v2/operations/{created['id']}").json()
    assert body["certificatePoints"] == 200.0 and body["points"] == -100.0
    assert body == fetched == created


def test_a_sale_that_lifts_the_tier_is_posted_with_the_new_tier(api, tiers, endpoint, receiver,
                                                                 on_commit):
    from decimal import Decimal

    from tests.factories import customer_create

    # given a Base customer 100 short of Silver (10,000 spent)
    customer = customer_create(phone="+79160000002", total_spent=Decimal(9900))
    # when he spends 500
    with on_commit(execute=True):
        created = api.post("/partner/v2/operations", sale(phone=customer.phone, receipt={
            "total": 500, "cash": 500, "points": 0}), format="json").json()
    # then the sale, its answer and its webhook all show him Silver, as GET does
    [(_headers, body)] = receiver.requests
    fetched = api.get(f"/partner/v2/operations/{created['id']}").json()
    assert body["customer"]["membershipTier"]["name"] == "Silver"
    assert body == fetched == created


def test_a_refund_is_posted_as_get_shows_it(api, tiers, endpoint, receiver, on_commit):
    with on_commit(execute=True):
        created = api.post("/partner/v2/operations", sale(), format="json").json()
    with on_commit(execute=True):
        refund = api.post(f"/partner/v2/operations/{created['id']}/refund",
                          {"partialAmount": 40}, format="json").json()
    assert receiver.requests[1][1] == api.get(f"/partner/v2/operations/{refund['id']}").json()


def test_a_sale_written_without_operation_save_still_gets_its_outbox_row(tiers, branch, endpoint):
    # The sale's hot path may insert the operation in SQL (no post_save): the outbox row comes
    # from the partner app's purchase extension, in the sale's own transaction, exactly once.
    from django.db.models.signals import post_save

    from loyalty.models import Operation
    from loyalty.services import purchase_create
    from tests.factories import customer_create

    customer = customer_create()
    receivers = post_save._live_receivers(Operation)
    post_save.receivers, saved = [], post_save.receivers
    post_save.sender_receivers_cache.clear()
    try:
        assert receivers  # something listened before
        receipt = purchase_create(customer=customer, branch=branch, total=10)
    finally:
        post_save.receivers = saved
        post_save.sender_receivers_cache.clear()
    assert list(WebhookDelivery.objects.values_list("operation_id", flat=True)) == [
        receipt.operation_id]


def test_a_delivery_left_behind_by_a_dead_process_is_sent_by_the_sweep_as_get_shows_it(
        api, tiers, endpoint, receiver, on_commit):
    # when the sale commits but the process dies before its on-commit callbacks run
    with on_commit(execute=False):
        created = api.post("/partner/v2/operations", sale(), format="json").json()
    assert receiver.requests == []
    # then the sweep finds the outbox row and posts the operation as GET shows it
    from partner.tasks import webhooks_retry_due

    assert webhooks_retry_due() == 1
    [(_headers, body)] = receiver.requests
    assert body == api.get(f"/partner/v2/operations/{created['id']}").json()
    assert WebhookDelivery.objects.get().payload == body  # kept as it was posted


def test_an_unsent_sale_delivery_opens_in_admin_naming_its_operation(api, tiers, endpoint,
                                                                     admin_user, on_commit):
    from django.test import Client

    with on_commit(execute=False):
        created = api.post("/partner/v2/operations", sale(), format="json").json()
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload is None and delivery.operation_id == created["id"]
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/partner/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/loyalty/operation/{created['id']}/" in page.content.decode()


def test_a_delivery_without_a_body_or_an_operation_is_refused_by_the_database(endpoint):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(endpoint=endpoint, event="operation", payload=None,
                                       request_id="bf7d19b0-8e3c-4d55-98ba-2783915957b6",
                                       next_attempt_at=timezone.now())


# --- Queuing the sends in batches (with a broker) --------------------------------------------------

def test_the_dispatcher_queues_every_delivery_once_in_batches():
    from concurrent.futures import ThreadPoolExecutor

    batches, done = [], threading.Event()

    def publish(ids):
        batches.append(ids)
        if sum(map(len, batches)) == 400:
            done.set()

    dispatcher = webhooks.Dispatcher(publish, pause=0.02)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(dispatcher.add, range(400)))
    assert done.wait(5)
    assert sorted(i for batch in batches for i in batch) == list(range(400))
    assert len(batches) < 400


def test_a_broker_that_refuses_a_batch_loses_nothing_the_sweep_would_not_send(caplog):
    def publish(ids):
        raise ConnectionError("broker down")

    dispatcher = webhooks.Dispatcher(publish)
    dispatcher._ids = [1, 2]
    dispatcher.flush()  # no exception escapes the background thread
    assert "could not queue deliveries [1, 2]" in caplog.text


def test_with_a_broker_a_committed_sale_is_handed_to_the_dispatcher(api, tiers, endpoint,
                                                                     settings, monkeypatch,
                                                                     on_commit):
    handed = []
    monkeypatch.setattr(webhooks, "dispatcher", type("Fake", (), {"add": staticmethod(
        handed.append)})())
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with on_commit(execute=True):
        created = api.post("/partner/v2/operations", sale(), format="json").json()
    # a sale's row went in with its last statement: it is named by its request id
    assert handed == [str(WebhookDelivery.objects.get(operation_id=created["id"]).request_id)]


def test_a_batch_is_sent_one_task_per_delivery_named_by_pk_or_request_id(tiers, endpoint, receiver):
    from partner.tasks import webhooks_send_many

    made = [WebhookDelivery.objects.create(
        endpoint=endpoint, event="operation", payload={"n": n}, request_id=f"bf7d19b0-8e3c-4d55-"
        f"98ba-27839159570{n}", next_attempt_at=timezone.now()) for n in range(3)]
    # (a request id no row has, or a name that is no request id, is skipped; the rest go)
    webhooks_send_many([made[0].pk, str(made[1].request_id), made[2].pk,
                        "00000000-0000-4000-8000-000000000000", "not-a-request-id"])
    assert sorted(body["n"] for _h, body in receiver.requests) == [0, 1, 2]


def test_a_webhook_address_must_be_http():
    from django.core.exceptions import ValidationError
    from django.utils import translation

    from partner.models import WebhookEndpoint, WebhookEvent

    endpoint = WebhookEndpoint(event=WebhookEvent.OPERATION, url="ftp://example.com/hook")
    with translation.override("en"), pytest.raises(ValidationError) as err:
        endpoint.full_clean()
    with translation.override("en"):
        assert "starts with https://" in str(err.value.message_dict["url"])
    WebhookEndpoint(event=WebhookEvent.OPERATION, url="https://example.com/hook").full_clean()
