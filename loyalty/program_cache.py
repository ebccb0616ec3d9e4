"""The program (settings and tiers) as every sale reads it, cached in the process for a moment.

Every sale needs the settings row and the tier list; reading them costs two queries per sale,
a fifth of its work. They change a few times a year, so each process keeps them for
``PROGRAM_CACHE_SECONDS`` (default 5) and drops them at once when this process saves or deletes
one; another process sees an edit within that many seconds.
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from .models import BusinessSettings, Tier


@dataclass(frozen=True)
class Program:
    settings: BusinessSettings
    tiers: tuple[Tier, ...]  # lowest threshold first


_lock = threading.Lock()
_cached: tuple[float, Program] | None = None


def program_get() -> Program:
    global _cached
    ttl = getattr(settings, "PROGRAM_CACHE_SECONDS", 5)
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    program = Program(
        settings=BusinessSettings.load(),
        tiers=tuple(Tier.objects.order_by("min_total_spent", "position")),
    )
    with _lock:
        _cached = (now, program)
    return program


def program_cache_clear(**_kwargs) -> None:
    global _cached
    with _lock:
        _cached = None


for _model in (BusinessSettings, Tier):
    post_save.connect(program_cache_clear, sender=_model, dispatch_uid=f"program_cache_{_model.__name__}")
    post_delete.connect(program_cache_clear, sender=_model,
                        dispatch_uid=f"program_cache_del_{_model.__name__}")
