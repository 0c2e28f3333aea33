"""`gameserver.backup` without a server: the directory layout, retention and manifest checks.

The HTTP side is a stub of the backup API (the real server is in tests/redis/
test_backup_restore.py); here the files: one directory per run, renamed into place only when
whole, the newest `keep` kept, and a restore that refuses a file the manifest does not vouch for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameserver.backup import (
    MANIFEST,
    PARTIAL_PREFIX,
    BackupError,
    Client,
    complete_backups,
    find_backup,
    run_backup,
    run_restore,
)


class StubApi(Client):
    """Battles `a…` and `b…`; `b…` ends (404) during the run when `vanishing`."""

    def __init__(self, vanishing: bool = False) -> None:
        super().__init__("http://stub", "token")
        self.vanishing = vanishing
        self.restored: list[tuple[bytes, dict[str, str]]] = []

    def battles(self) -> list[str]:
        return ["a" * 16, "b" * 16]

    def export(self, battle_id: str) -> bytes | None:
        if self.vanishing and battle_id.startswith("b"):
            return None
        restore = {"battle_id": battle_id, "join_code": "ABCDEF", "gm_token_hash": "0" * 64}
        return json.dumps({"events": [{"seq": 1}], "restore": restore}).encode()

    def restore(self, raw: bytes, identity: dict[str, str]) -> tuple[int, str]:
        self.restored.append((raw, identity))
        return 201, "ok"


def test_each_run_is_a_whole_directory_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    api = StubApi()
    (tmp_path / f"{PARTIAL_PREFIX}20000101T000000Z").mkdir()  # a run that died
    for day in range(1, 5):
        done = run_backup(api, tmp_path, keep=2, now=86400.0 * day)
        assert done.battles == 2
    kept = complete_backups(tmp_path)
    assert [p.name for p in kept] == ["19700104T000000Z", "19700105T000000Z"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in kept]
    manifest = json.loads((kept[-1] / MANIFEST).read_text())
    assert [e["battle_id"] for e in manifest["battles"]] == ["a" * 16, "b" * 16]
    assert manifest["failed"] == []


class EmptyApi(StubApi):
    """The store lost its data: no battle any more."""

    def battles(self) -> list[str]:
        return []


def test_empty_runs_after_a_data_loss_never_push_out_the_backups_with_battles(
    tmp_path: Path,
) -> None:
    for day in range(1, 3):
        run_backup(StubApi(), tmp_path, keep=2, now=86400.0 * day)
    for day in range(3, 7):
        assert run_backup(EmptyApi(), tmp_path, keep=2, now=86400.0 * day).battles == 0
    names = [p.name for p in complete_backups(tmp_path)]
    assert names == ["19700102T000000Z", "19700103T000000Z", "19700107T000000Z"]
    assert find_backup(tmp_path).name == "19700103T000000Z"
    run_backup(StubApi(), tmp_path, keep=2, now=86400.0 * 8)
    names = [p.name for p in complete_backups(tmp_path)]
    assert names == ["19700103T000000Z", "19700107T000000Z", "19700109T000000Z"]


def test_a_battle_gone_during_the_run_is_noted_not_failed(tmp_path: Path) -> None:
    done = run_backup(StubApi(vanishing=True), tmp_path, keep=1, now=0.0)
    assert (done.battles, done.gone, done.failed) == (1, ["b" * 16], [])


def test_restore_refuses_files_the_manifest_does_not_vouch_for(tmp_path: Path) -> None:
    api = StubApi()
    backup = run_backup(api, tmp_path, keep=1, now=0.0).path
    assert find_backup(tmp_path) == backup
    good = (backup / f"{'a' * 16}.json").read_bytes()
    (backup / f"{'b' * 16}.json").write_bytes(good[:-5])
    result = run_restore(api, tmp_path)
    assert result.restored == ["a" * 16]
    assert "truncated or altered" in result.refused["b" * 16]
    assert [identity["battle_id"] for _, identity in api.restored] == ["a" * 16]


def test_restore_of_something_that_is_no_backup_says_so(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match=r"no manifest\.json"):
        run_restore(StubApi(), tmp_path)
    (tmp_path / MANIFEST).write_text("[1, 2")
    with pytest.raises(BackupError, match="not a backup manifest"):
        run_restore(StubApi(), tmp_path)
