"""The project's URLs plus baselines that share its middleware stack:

- `POST /bench/bare/` and `GET /bench/bare-get/`: a plain Django view, no database, no broker;
- `GET /bench/api/open/`, `/bench/api/key/`, `/bench/api/session/`: the same tiny DRF view without authentication,
  with the API's key authentication (and nothing else: no throttle, no query), and with session authentication.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500
from tenants.api.authentication import ApiKeyAuthentication, HasApiKey


@csrf_exempt
@require_POST
def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "accepted"}, status=202)


@require_GET
def bare_get(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


class OpenView(APIView):
    authentication_classes = []  # type: ignore[var-annotated]
    permission_classes = [AllowAny]
    throttle_classes = []  # type: ignore[var-annotated]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ApiKeyView(OpenView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]


class SessionView(OpenView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/bare-get/", bare_get, name="bench-bare-get"),
    path("bench/api/open/", OpenView.as_view(), name="bench-api-open"),
    path("bench/api/key/", ApiKeyView.as_view(), name="bench-api-key"),
    path("bench/api/session/", SessionView.as_view(), name="bench-api-session"),
    path("", include("config.urls")),
]

__all__ = ["handler404", "handler500", "urlpatterns"]
