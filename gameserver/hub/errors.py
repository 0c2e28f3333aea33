"""The hub's refusal: a stable code and a readable message, answered as `error`."""

from __future__ import annotations


class HubError(Exception):
    """A refusal with a stable code, sent to the client as `error` (nothing changed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
