"""gunicorn's production settings: ``python -m gunicorn -c config/gunicorn.conf.py config.wsgi``.

Options given on the command line win over these.
"""

import os

# A process per core, each with a few threads: a request spends much of its time waiting for
# PostgreSQL, and more processes than cores only fight over them (see docs/partner_api.md).
workers = os.cpu_count() or 2
threads = 4
# gthread, but each process takes its share of the kept-alive connections (config/gunicorn_worker.py).
worker_class = "config.gunicorn_worker.FairThreadWorker"
bind = "127.0.0.1:8000"


def post_worker_init(worker):
    """Once the application is loaded: leave its objects out of the garbage collector's scans.

    A full collection walked the ~120 000 objects of the loaded project and paused every thread
    of the process for 75 ms (about once per 5 000 requests); after ``gc.freeze()`` it takes 9 ms.
    """
    import gc

    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    """In the master, when a worker exits (even killed): its connection count no longer counts."""
    from config.gunicorn_worker import slot_free

    slot_free(worker.pid)
