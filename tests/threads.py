"""Run a callable in many threads at once, each with its own database connection."""

import threading

from django.db import connection


def run_threads(n, target):
    """Start ``n`` threads that call ``target(i)`` together (a barrier); return (results, errors).

    Each thread closes its own connection when done, so transactional tests can flush.
    """
    results, errors = [], []
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            barrier.wait()
            results.append(target(i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
