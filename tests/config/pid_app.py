"""A WSGI application that answers with the pid of the process serving it (for gunicorn tests).

``/slow?SECONDS`` answers after that many seconds.
"""

import os
import time


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or 1))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
