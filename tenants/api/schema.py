from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from tenants.api.serializers import ApiErrorSerializer


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "tenants.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` (or send the bare key in `X-Api-Key`).",
        }


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers every operation can give, in the API's one error shape.

    drf-spectacular documents only the success status, so an integrator (and the schemathesis run in
    config/tests/test_api_schema_fuzz.py) would see each 400, 401, 404 and 429 as undocumented. Which ones apply
    follows from the operation itself: a key is required, the key is throttled, an id is in the path, a body or a
    query parameter can be wrong. Statuses a view documents itself (a 503 when GroupMe is down) are kept.
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._error_statuses(operation):
            if code not in responses:
                response = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ApiErrorSerializer, code, direction="response"
                )
                response["description"] = description
                responses[code] = response
        return operation

    def _error_statuses(self, operation: dict[str, Any]) -> list[tuple[str, str]]:
        locations = {parameter["in"] for parameter in operation.get("parameters", [])}
        statuses = []
        if "requestBody" in operation or "query" in locations:
            statuses.append(("400", "Invalid parameters or body: `fields` names each mistake."))
        if operation.get("security"):
            statuses.append(("401", "Missing, invalid, expired or revoked API key."))
        if "path" in locations:
            statuses.append(("404", "No such object for this API key's tenant (another tenant's ids do not exist)."))
        if self.view.get_throttles():
            statuses.append(("429", "Over API_THROTTLE_RATE for this key; retry after `Retry-After` seconds."))
        return statuses
