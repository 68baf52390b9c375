import math
import time
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from tenants.models import ApiKey

if TYPE_CHECKING:  # rest_framework.views imports the API settings, which import this module
    from rest_framework.views import APIView

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60). The period is named by its first letter: s, m, h or d."""
    count, _, period = rate.partition("/")
    try:
        return int(count), _PERIOD_SECONDS[period.strip().lower()[:1]]
    except (ValueError, KeyError):
        raise ValueError(f"API_THROTTLE_RATE must look like 600/min, not {rate!r}") from None


class ApiKeyRateThrottle(BaseThrottle):
    """API_THROTTLE_RATE per key, counted in fixed windows on the shared cache.

    `add` + `incr` are atomic in Redis, so concurrent requests on several web processes count exactly. When the
    cache is down the counter is unknown and the request is let through: an outage must not lock integrators out.
    """

    def __init__(self) -> None:
        self.num_requests, self.period = parse_rate(settings.API_THROTTLE_RATE)
        self.retry_after: float | None = None

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        now = time.time()
        window = math.floor(now / self.period)
        key = f"throttle:api-key:{request.auth.pk}:{window}"
        cache.add(key, 0, timeout=self.period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the window's counter expired between add and incr
            return True
        if count is None or count <= self.num_requests:
            return True
        self.retry_after = (window + 1) * self.period - now
        return False

    def wait(self) -> float | None:
        return self.retry_after
