"""Backup and restore of a whole store (`gameserver.backup`), with the plain import as baseline.

One in-memory game server holds `BATTLES` fresh battles and the largest legal battle (a 4 MiB
log); `run_backup` writes them all, `run_restore` puts them into a second, empty server. The
baseline, in the same run: the same files posted to the public `POST /api/battles/import` of a
third server (the check a restore runs is the import's: restore should cost what import costs).
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from pathlib import Path

from gameserver.backup import MANIFEST, Client, complete_backups, run_backup, run_restore
from testkit.largest import longest_log
from testkit.servers import game_server
from tests.server.conftest import scenario

BATTLES = 50
TOKEN = "bench-backup-token-0123456789abcdef"
ENV = {
    "BACKUP_TOKEN": TOKEN,
    "EXPORT_KEY": "bench-export-key",
    "ADDRESS_BURST": "100000",
    "IMPORT_TIMEOUT_S": "600",
}


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 201, response.status


def run() -> None:
    """Print sizes and seconds for the backup, the restore and the import baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with game_server(None, ENV) as source:
            body = json.dumps({"scenario": scenario()}).encode()
            for _ in range(BATTLES):
                _post(f"{source.url}/api/battles", body)
            _post(
                f"{source.url}/api/battles/import",
                json.dumps({"events": longest_log(4 << 20)}).encode(),
            )
            started = time.perf_counter()
            done = run_backup(Client(source.url, TOKEN), root, keep=1)
            backup_s = time.perf_counter() - started
        print(f"backup: {done.battles} battles, {done.bytes / 1e6:.2f} MB in {backup_s:.2f} s")
        (backup,) = complete_backups(root)
        files = [backup / e["file"] for e in json.loads((backup / MANIFEST).read_text())["battles"]]
        with game_server(None, ENV) as empty:
            started = time.perf_counter()
            restored = run_restore(Client(empty.url, TOKEN), root)
            restore_s = time.perf_counter() - started
        assert not restored.refused, restored.refused
        print(f"restore: {len(restored.restored)} battles in {restore_s:.2f} s")
        with game_server(None, ENV) as baseline:
            started = time.perf_counter()
            for path in files:
                _post(f"{baseline.url}/api/battles/import", path.read_bytes())
            import_s = time.perf_counter() - started
        print(f"baseline: the same {len(files)} files imported in {import_s:.2f} s")
