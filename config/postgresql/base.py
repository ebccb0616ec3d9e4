"""Django's PostgreSQL backend with a connection health check that costs no round trip.

With persistent connections (``CONN_MAX_AGE``) Django checks a connection at the start of every
request that uses it (``CONN_HEALTH_CHECKS``) by running ``SELECT 1``: one round trip, and the
most frequent statement the server sees. But a server that drops an idle client tells it: on a
shutdown or restart, ``pg_terminate_backend`` or ``idle_session_timeout`` it sends a FATAL message
and closes the socket, so the socket turns readable. So: an idle connection whose socket has
nothing to read is usable as it stands; when something is waiting there (or the connection is not
plainly idle), Django's own ``SELECT 1`` decides, and a dead connection is replaced as before.

A connection cut without a word (a network partition) is caught by neither check in time:
``SELECT 1`` would wait for the TCP timeout too.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        pgconn = self.connection.pgconn
        if (pgconn.status != pq.ConnStatus.OK
                or pgconn.transaction_status != pq.TransactionStatus.IDLE):
            return super().is_usable()
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError, psycopg.Error):
            return False
        return super().is_usable() if readable else True
