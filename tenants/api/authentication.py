from typing import TYPE_CHECKING

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.models import ApiKey, Tenant
from tenants.selectors import api_key_get_for_authentication
from tenants.services import api_key_mark_used

if TYPE_CHECKING:  # rest_framework.views imports the API settings, which import this module
    from rest_framework.views import APIView


class ApiClient:
    """`request.user` for an API request: the integrator behind a key, acting for the key's tenant."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.tenant: Tenant = api_key.tenant

    def __str__(self) -> str:
        return f"api key {self.api_key.prefix}"


def request_tenant(request: Request) -> Tenant:
    """The tenant of an authenticated API request: the one its key belongs to, resolved once by authentication."""
    client = request.user
    assert isinstance(client, ApiClient), "the default authentication and permission classes require an API key"
    return client.tenant


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>` or `X-Api-Key: <key>`."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        raw_key = self._presented_key(request)
        if raw_key is None:
            return None
        api_key = api_key_get_for_authentication(raw_key=raw_key)
        if api_key is None:
            raise AuthenticationFailed("Invalid, expired or revoked API key.")
        api_key_mark_used(api_key=api_key)
        return ApiClient(api_key), api_key

    def _presented_key(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == self.keyword.lower() and credentials.strip():
            return credentials.strip()
        return request.headers.get("X-Api-Key", "").strip() or None

    def authenticate_header(self, request: Request) -> str:
        # Naming a scheme makes DRF answer 401 (with WWW-Authenticate), not 403, when no key is sent.
        return f'{self.keyword} realm="api"'


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        return isinstance(request.auth, ApiKey)
