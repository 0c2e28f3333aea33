"""The typed input reader and the case error shared by every profile's vector ops (RULES Part A).

Absent fields take their default unless required; a wrong type or a missing required field is a
`CaseError`, which the checker reports as a failing case (never a crash).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameserver.rules.tables_mgt2e import BAND_INDEX


class CaseError(Exception):
    """The case itself is malformed (missing or bad input, unknown op)."""


_MISSING = object()


@dataclass(frozen=True, slots=True)
class In:
    data: dict[str, Any]
    where: str = "input"

    def get(self, name: str, kind: str, default: Any = _MISSING) -> Any:
        """Read a field; absent fields default (RULES Part A) unless required (no default)."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or (value is None and kind not in ("int?", "obj?")):
            if default is _MISSING:
                raise CaseError(f"missing required {self.where} field {name!r}")
            return default
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "int?": value is None or (isinstance(value, int) and not isinstance(value, bool)),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "obj": isinstance(value, dict),
            "obj?": value is None or isinstance(value, dict),
            "list": isinstance(value, list),
        }[kind]
        if not ok:
            raise CaseError(f"{self.where} field {name!r} has the wrong type: {value!r}")
        return value

    def sub(self, name: str, default: Any = _MISSING) -> In:
        """A nested object, read with the same rules."""
        return In(self.get(name, "obj", default), name)

    def band(self, name: str) -> str:
        value = self.get(name, "str")
        if value not in BAND_INDEX:
            raise CaseError(f"{self.where} field {name!r}: unknown range band {value!r}")
        return str(value)
