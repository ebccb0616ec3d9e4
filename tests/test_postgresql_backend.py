"""The PostgreSQL backend's health check (config.postgresql): no round trip for a live
connection, a new connection for one the server dropped."""

import time

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_the_backend_is_ours():
    assert connection.settings_dict["ENGINE"] == "config.postgresql"


def test_a_live_idle_connection_is_usable_without_a_statement(monkeypatch):
    connection.ensure_connection()
    asked = []
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: asked.append(1) or True)
    assert connection.is_usable()
    assert asked == []  # no SELECT 1


def test_a_connection_the_server_dropped_is_replaced_at_the_next_request():
    from django.db import connections

    connection.ensure_connection()
    old = connection.connection
    pid = old.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0] is True
    finally:
        other.close()
    # what Django does when a request starts and the connection is reused
    connection.health_check_done = False
    # pg_terminate_backend only signals the server process: give it time to say goodbye.
    deadline = time.monotonic() + 10
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not connection.is_usable()
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
    assert connection.connection is not old
