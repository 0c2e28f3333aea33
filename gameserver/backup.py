"""Back up every battle of a server to a directory, and restore a backup into an empty store.

    python -m gameserver.backup backup  --url http://skirmish:80 --dir /backups --keep 7
                                        [--bgsave]   (also asks Redis at $REDIS_URL to BGSAVE)
    python -m gameserver.backup restore /backups[/<stamp>] --url http://127.0.0.1:3000

The token of the server's backup API is read from the ``BACKUP_TOKEN`` environment variable
(never from the command line, which every user of the machine can read in ``ps``), and so is
``REDIS_URL`` (it holds Redis's password); nothing printed here carries either.

A backup is one directory per run, ``<dir>/<UTC stamp>/``, holding one ``<battle id>.json`` per
battle (the GM export's format plus the battle's identity: the import
API takes the file as it is) and ``manifest.json`` (size and sha256 of each file). It is written
under ``.partial-<stamp>`` and renamed when complete, so a run that dies leaves no backup that
looks whole; the newest ``--keep`` complete backups are kept, older ones deleted.

A restore checks each file against the manifest first (a truncated or altered file is refused
here, naming it), then the server checks it as an import (every command re-executed); either
way a refused file restores nothing, and the others are still restored. Exit status 1 when any
battle was not backed up or not restored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BACKUP_TOKEN_ENV = "BACKUP_TOKEN"
"""The variable holding the backup API's token: the server's `Settings.backup_token` reads the
same name (the operator fills both from one Secret)."""
REDIS_URL_ENV = "REDIS_URL"
"""The Redis to ask for BGSAVE (the server's own `REDIS_URL` setting, same name)."""
MANIFEST = "manifest.json"
FORMAT = "tvtt-backup/1"
STAMP = re.compile(r"^\d{8}T\d{6}Z$")
PARTIAL_PREFIX = ".partial-"
HTTP_TIMEOUT_S = 120.0
BUSY_RETRIES = 5
# The restore headers (`gameserver.hub.backups`), duplicated so this client imports no server.
RESTORE_HEADERS = {
    "battle_id": "X-Restore-Battle-Id",
    "join_code": "X-Restore-Join-Code",
    "gm_token_hash": "X-Restore-Gm-Token-Hash",
    "created_at": "X-Restore-Created-At",
}


class BackupError(Exception):
    """A refusal or failure worth one readable line (no traceback)."""


@dataclass
class Client:
    """The server's backup API over HTTP (stdlib only: this runs as a short job)."""

    url: str
    token: str

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
        )
        for attempt in range(BUSY_RETRIES + 1):
            try:
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                    return int(response.status), bytes(response.read())
            except urllib.error.HTTPError as exc:
                payload = exc.read()
                if exc.code == 503 and attempt < BUSY_RETRIES:  # import_busy, store blip
                    time.sleep(0.5 * 2**attempt)
                    continue
                return exc.code, payload
            except (urllib.error.URLError, OSError) as exc:
                raise BackupError(f"{method} {path}: cannot reach {self.url}: {exc}") from None
        raise AssertionError("unreachable")

    def battles(self) -> list[str]:
        status, body = self._request("GET", "/api/backup/battles")
        if status != 200:
            raise BackupError(f"listing battles: HTTP {status}: {_message(body)}")
        return [str(b) for b in json.loads(body)["battles"]]

    def export(self, battle_id: str) -> bytes | None:
        """The battle's backup file, or None when it is gone (ended and expired meanwhile)."""
        status, body = self._request("GET", f"/api/backup/battles/{battle_id}")
        if status == 404:
            return None
        if status != 200:
            raise BackupError(f"battle {battle_id}: HTTP {status}: {_message(body)}")
        return body

    def restore(self, raw: bytes, identity: dict[str, str]) -> tuple[int, str]:
        headers = {"Content-Type": "application/json"}
        headers |= {RESTORE_HEADERS[k]: identity[k] for k in RESTORE_HEADERS}
        status, body = self._request("POST", "/api/backup/battles", raw, headers)
        return status, _message(body)


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")
    if isinstance(data, dict) and "message" in data:
        return f"{data.get('error', 'error')}: {data['message']}"
    return "ok"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class BackupResult:
    """What one backup run wrote (printed as one line, kept in the manifest)."""

    path: Path
    battles: int = 0
    bytes: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bgsave: str = ""


def run_backup(
    client: Client, root: Path, keep: int, *, redis_url: str = "", now: float | None = None
) -> BackupResult:
    """Export every battle into a new ``<root>/<stamp>/``; keep the newest `keep` backups."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    partial = root / f"{PARTIAL_PREFIX}{stamp}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    result = BackupResult(path=root / stamp)
    if redis_url:
        result.bgsave = _bgsave(redis_url)
    entries = []
    for battle_id in client.battles():
        try:
            raw = client.export(battle_id)
        except BackupError as exc:
            print(f"backup: {exc}", file=sys.stderr)
            result.failed.append(battle_id)
            continue
        if raw is None:
            result.gone.append(battle_id)
            continue
        name = f"{battle_id}.json"
        (partial / name).write_bytes(raw)
        entries.append(
            {"battle_id": battle_id, "file": name, "bytes": len(raw), "sha256": _digest(raw)}
        )
        result.battles += 1
        result.bytes += len(raw)
    manifest = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "battles": entries,
        "failed": result.failed,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    if result.path.exists():  # two runs within one second: the newer one wins
        shutil.rmtree(result.path)
    partial.rename(result.path)
    result.deleted = prune(root, keep)
    return result


def complete_backups(root: Path) -> list[Path]:
    """The complete backups under `root`, oldest first (a stamp directory with a manifest)."""
    found = [p for p in root.iterdir() if STAMP.match(p.name) and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda p: p.name)


def _empty(backup: Path) -> bool:
    try:
        return not json.loads((backup / MANIFEST).read_text())["battles"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def prune(root: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` complete backups, and leftovers of runs that died.

    An empty backup (no battle) never pushes out one with battles: after the store lost its
    data, the runs that follow find nothing, and must not delete the backups to restore from.
    Only the newest empty backup is kept, and it does not count toward `keep`.
    """
    backups = complete_backups(root)
    full = [p for p in backups if not _empty(p)]
    empty = [p for p in backups if _empty(p)]
    doomed = (full[:-keep] if keep > 0 else []) + empty[:-1]
    doomed += [p for p in root.iterdir() if p.name.startswith(PARTIAL_PREFIX)]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return sorted(p.name for p in doomed)


def _bgsave(redis_url: str) -> str:
    """Ask Redis for an RDB snapshot next to its AOF (`BGSAVE`); a refusal is reported only."""
    import redis  # only the job that asks for BGSAVE needs the client

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=10)
        try:
            client.bgsave()
        finally:
            client.close()
    except redis.ResponseError as exc:
        if "in progress" in str(exc):
            return "already running"
        return f"refused: {exc}"
    except redis.RedisError as exc:
        return f"failed: {type(exc).__name__}"
    return "started"


@dataclass
class RestoreResult:
    """Per battle: restored, already present (409), or refused with the reason."""

    restored: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    bytes: int = 0
    backup: Path | None = None


def find_backup(path: Path) -> Path:
    """`path` itself when it holds a manifest, else its newest complete backup with battles
    (a run after the store lost its data finds none; name that directory to restore it)."""
    if (path / MANIFEST).is_file():
        return path
    if path.is_dir():
        backups = [p for p in complete_backups(path) if not _empty(p)]
        if backups:
            return backups[-1]
    raise BackupError(f"{path}: no {MANIFEST} here and no complete backup under it")


def _identity(raw: bytes, battle_id: str) -> dict[str, str]:
    """The file's restore identity (checked again by the server)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BackupError(f"not JSON ({exc})") from None
    restore = data.get("restore") if isinstance(data, dict) else None
    if not isinstance(restore, dict) or restore.get("battle_id") != battle_id:
        raise BackupError("its restore identity is missing or names another battle")
    return {k: str(restore.get(k, "")) for k in RESTORE_HEADERS}


def run_restore(client: Client, path: Path) -> RestoreResult:
    """Restore every battle of one backup; a refused file is reported and skipped."""
    backup = find_backup(path)
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
        entries = list(manifest["battles"])
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{backup / MANIFEST}: not a backup manifest ({exc})") from None
    result = RestoreResult(backup=backup)
    for entry in entries:
        battle_id = str(entry.get("battle_id", "?"))
        file = backup / Path(str(entry.get("file", ""))).name
        try:
            raw = file.read_bytes()
            if len(raw) != entry.get("bytes") or _digest(raw) != entry.get("sha256"):
                raise BackupError(
                    f"{file.name} is truncated or altered ({len(raw)} bytes, the manifest "
                    f"recorded {entry.get('bytes')} bytes and another sha256)"
                )
            identity = _identity(raw, battle_id)
        except OSError as exc:
            result.refused[battle_id] = f"{file.name}: {exc.strerror or exc}"
            continue
        except BackupError as exc:
            result.refused[battle_id] = f"{file.name}: {exc}"
            continue
        status, message = client.restore(raw, identity)
        if status == 201:
            result.restored.append(battle_id)
            result.bytes += len(raw)
        elif status == 409:
            result.present.append(battle_id)
        else:
            result.refused[battle_id] = f"{file.name}: HTTP {status}: {message}"
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command line (see the module's docstring); the operator's CronJob renders it."""
    parser = argparse.ArgumentParser(prog="python -m gameserver.backup", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    backup = sub.add_parser("backup", help="export every battle into a new backup directory")
    backup.add_argument("--url", required=True, help="the game server (its Service)")
    backup.add_argument("--dir", required=True, type=Path, help="where backups are kept")
    backup.add_argument("--keep", type=int, default=7, help="complete backups to keep (>= 1)")
    backup.add_argument(
        "--bgsave", action="store_true", help="also ask the Redis at $REDIS_URL for BGSAVE"
    )
    restore = sub.add_parser("restore", help="restore one backup into an (empty) store")
    restore.add_argument("path", type=Path, help="a backup directory, or the directory of them")
    restore.add_argument("--url", required=True, help="the game server")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 when every battle made it."""
    parser = build_parser()
    args = parser.parse_args(argv)
    token = os.environ.get(BACKUP_TOKEN_ENV, "")
    if not token:
        parser.error(f"set {BACKUP_TOKEN_ENV} to the server's backup token")
    client = Client(args.url, token)
    started = time.monotonic()
    try:
        if args.command == "backup":
            if args.keep < 1:
                parser.error("--keep must be at least 1")
            redis_url = os.environ.get(REDIS_URL_ENV, "") if args.bgsave else ""
            if args.bgsave and not redis_url:
                parser.error(f"--bgsave needs {REDIS_URL_ENV}")
            done = run_backup(client, args.dir, args.keep, redis_url=redis_url)
            print(
                f"backup: {done.battles} battles, {done.bytes} bytes in "
                f"{time.monotonic() - started:.2f} s -> {done.path}"
                + (f"; {len(done.gone)} gone meanwhile" if done.gone else "")
                + (f"; deleted {', '.join(done.deleted)}" if done.deleted else "")
                + (f"; redis BGSAVE {done.bgsave}" if done.bgsave else "")
            )
            for battle_id in done.failed:
                print(f"backup: battle {battle_id} NOT backed up", file=sys.stderr)
            bgsave_failed = done.bgsave.startswith(("refused", "failed"))
            return 1 if done.failed or bgsave_failed else 0
        restored = run_restore(client, args.path)
    except BackupError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    print(
        f"restore: {len(restored.restored)} battles restored ({restored.bytes} bytes) in "
        f"{time.monotonic() - started:.2f} s from {restored.backup}"
        + (f"; {len(restored.present)} already present" if restored.present else "")
        + (f"; {len(restored.refused)} refused" if restored.refused else "")
    )
    for battle_id, reason in sorted(restored.refused.items()):
        print(f"restore: battle {battle_id} NOT restored: {reason}", file=sys.stderr)
    return 1 if restored.refused else 0


if __name__ == "__main__":
    sys.exit(main())
