"""The hub's refusal: a stable code and a readable message, answered as `error`."""

from __future__ import annotations

from typing import Any, Final

RETRY_AFTER_FAILURE_S: Final = 1.0
"""A room's bot and auto-passer try again this long after a failure they did not expect."""


class HubError(Exception):
    """A refusal with a stable code, sent to the client as `error` (nothing changed).

    `status` is the HTTP status when the refusal answers a request (422: a well-formed body
    the rules refuse, such as a forged import or a number out of bounds).
    """

    def __init__(
        self, code: str, message: str, status: int = 400, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
