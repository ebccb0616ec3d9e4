"""Development: debug on, a fixed insecure key so `make run` works with no configuration."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# base.py derived this from its own DEBUG (off): development prints messages (and the join page's
# one-time codes) in the runserver console unless told otherwise.
NOTIFY_CONSOLE = env.bool("NOTIFY_CONSOLE", default=DEBUG)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")  # noqa: S105
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
