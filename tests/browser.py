"""What the browser tests share."""

from django.db import connections


def close_playwright_side_connections() -> None:
    """Close the database connections the test opened while Playwright's event loop ran.

    Playwright's sync API runs an asyncio loop in the test's thread. While it runs, Django keeps
    that thread's connections per context, not per thread, so the ORM calls a browser test makes
    open connections of their own, which the test database's teardown never sees: it found the
    database still in use and could not drop it ("being accessed by other users"). Call this
    while the loop still runs (inside the ``sync_playwright()`` block), after the last query."""
    connections.close_all()
