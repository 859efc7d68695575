"""ZStack's error answers as the simulator produces them.

Two kinds exist, as on a real management node (ZSTACK-API.md 2.3): ``RestError`` is the REST
layer refusing a request with a plain-text body (400/403/404/405), ``ApiError`` is the API
pipeline or a service failing with an ``ErrorCode`` (503 ``{"error": ...}``, directly for sync
APIs or through the polled job for async ones). The helpers build the ErrorCode texts ZStack's
validators use, so tests and clients see the real wording. Used by every request-handling module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..zstack.models import ErrorCode

#: Generic text per code (``conf/errorCodes/sys.xml`` and ``identity.xml``).
DESCRIPTIONS: Mapping[str, str] = {
    "SYS.1000": "An internal error happened in system",
    "SYS.1001": "A message or a operation timeout",
    "SYS.1003": "A resource can not be found",
    "SYS.1006": "An operation failed",
    "SYS.1007": "One or more API argument is invalid",
    "SYS.1014": "The operation is not implemented or not supported yet",
    "ID.1000": "Unable to authenticate a user",
    "ID.1001": "The session is invalid, either wrong session id or the session has been expired",
    "ID.1002": "The user doesn't have permission to perform the operation",
}

MSG_CREATE_ACCOUNT = "org.zstack.header.identity.APICreateAccountMsg"
#: What ``ApiMessageParamValidator``'s texts call "the message": its own class, since it formats
#: ``getClass().getName()`` (ZSTACK-API.md section 10 row 13), not the API message's.
VALIDATOR = "org.zstack.header.message.ApiMessageParamValidator"

_UUID_RULE = (
    "A valid uuid is a UUID(v4 recommended) with '-' stripped. see "
    "http://en.wikipedia.org/wiki/Universally_unique_identifier for format of UUID, the regular "
    "expression ZStack uses to validate a UUID is "
    "[0-9a-f]{8}[0-9a-f]{4}[1-5][0-9a-f]{3}[89ab][0-9a-f]{3}[0-9a-f]{12}"
)


class RestError(Exception):
    """The REST layer refuses the request: a status and a plain-text body."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = dict(headers or {})


class ApiError(Exception):
    """An API failed with a ZStack ErrorCode (answered as 503 ``{"error": ...}``)."""

    def __init__(self, error: ErrorCode) -> None:
        super().__init__(f"{error.code}: {error.details}")
        self.error = error


def error_code(code: str, details: str, *, cause: ErrorCode | None = None) -> ErrorCode:
    """An ErrorCode with ZStack's generic description for ``code``."""
    return ErrorCode(code=code, description=DESCRIPTIONS.get(code), details=details, cause=cause)


def error_body(error: ErrorCode) -> dict[str, Any]:
    """The JSON body of a failed API: null fields omitted, as CloudBusGson does."""
    return {"error": error.model_dump(mode="json", exclude_none=True)}


def failure(code: str, details: str) -> ApiError:
    """Shorthand: an ``ApiError`` with ``code`` and ``details``."""
    return ApiError(error_code(code, details))


def mandatory(field: str) -> ApiError:
    """A required field is null (``ApiMessageParamValidator``)."""
    return failure(
        "SYS.1007", f"field[{field}] of message[{VALIDATOR}] is mandatory, can not be null"
    )


def invalid_value(field: str, valid: Sequence[str], found: object) -> ApiError:
    """A value outside ``validValues``; the list prints like Java's ``Arrays.toString``."""
    return failure(
        "SYS.1007",
        f"valid value for field[{field}] of message[{VALIDATOR}] are [{', '.join(valid)}], "
        f"but {found} found",
    )


def out_of_range(field: str, low: int, high: int) -> ApiError:
    """A number outside its allowed range (``numberRange``)."""
    return failure("SYS.1007", f"field[{field}] must be in range of [{low}, {high}]")


def not_found(field: str, uuid: str, vo_type: str) -> ApiError:
    """A uuid field names no resource (``PortApiValidator``)."""
    return failure(
        "SYS.1003", f"invalid field[{field}], resource[uuid:{uuid}, type:{vo_type}] not found"
    )


def invalid_resource_uuid(value: str) -> ApiError:
    """``resourceUuid`` does not match ZStack's uuid pattern (``ApiMediatorImpl``)."""
    return failure("SYS.1007", f"resourceUuid[{value}] is not a valid uuid. {_UUID_RULE}")


def already_exists(uuid: str, vo_type: str) -> ApiError:
    """``resourceUuid`` is taken: ZStack raises an internal error (``APICreateMessage``)."""
    return failure("SYS.1000", f"resource[uuid:{uuid}, type:{vo_type}] already exists")


def too_long(field: str, limit: int, found: str) -> ApiError:
    """A String longer than its ``maxLength`` (``ApiMessageParamValidator``)."""
    return failure(
        "SYS.1007",
        f"field[{field}] of message[{VALIDATOR}] exceeds max length of string. expected was <= "
        f"{limit}, actual was {len(found)}",
    )


def operation_denied(
    uuid: str, vo_type: str, owner_name: str, owner_uuid: str, caller: str
) -> ApiError:
    """A uuid field names another account's resource (``AccountAPIRequestChecker``).

    The spacing is the source's own (``type: %s,ownerAccountName:%s``), not tidied up.
    """
    return failure(
        "ID.1002",
        f"operation denied. The resource[uuid: {uuid}, type: {vo_type},ownerAccountName:"
        f"{owner_name}, ownerAccountUuid:{owner_uuid}] doesn't belong to the account[uuid: "
        f"{caller}]",
    )


def admin_only(message: str) -> ApiError:
    """An ``adminOnlyAPIs`` entry called by anyone but the admin (``RBACAPIRequestChecker``)."""
    return failure(
        "ID.1002",
        f"request api[name: {message}] is admin only, can not be executed by current user",
    )


def not_owner(caller: str, uuid: str, vo_type: str) -> ApiError:
    """A non-admin acting on a resource it does not own (``OperationTargetAPIRequestChecker``)."""
    return failure(
        "SYS.1006",
        f"permission denied, the account[uuid:{caller}] is not the owner of the "
        f"resource[uuid:{uuid}, type:{vo_type}]",
    )


def session_expired() -> ApiError:
    """The session is unknown, logged out or expired (``Session.checkSessionExpired``)."""
    return failure("ID.1001", "Session expired")
