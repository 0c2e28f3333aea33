"""``python -m gameserver.verify BATTLE.json``: check a finished battle's dice.

Reads an exported battle (``GET /api/battles/{id}/log``, or the page's "Download battle"; a bare
list of events works too), checks the revealed seed against the commitment and every recorded
die against the stream (`gameserver.rules.verification`). Exit status 0 when verified, 1 when
not, 2 when the file cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gameserver.rules.verification import verify_log


def main(argv: list[str] | None = None) -> int:
    """Verify the file named in `argv` and print the verdict."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gameserver.verify BATTLE.json", file=sys.stderr)
        return 2
    try:
        body: Any = json.loads(Path(args[0]).read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read {args[0]}: {exc}", file=sys.stderr)
        return 2
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        print("the file holds no list of events", file=sys.stderr)
        return 2
    verdict = verify_log(events)
    print(("dice verified: " if verdict.ok else "NOT verified: ") + verdict.reason)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
