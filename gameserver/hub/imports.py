"""The import workers: processes that check imports (`gameserver.importcheck`), so the seconds
of CPU the largest import costs never touch the event loop or its GIL.

Why not `concurrent.futures.ProcessPoolExecutor`: a check that overruns its time cannot be
stopped without breaking the whole pool (it has no way to kill one task), and under the
'spawn' and 'forkserver' start methods each worker re-imports the server's main script (the
whole app); 'forkserver' also needs a writable temporary directory, which the pod's read-only
root does not have. A worker here is ``python -P -m gameserver.importcheck`` on two pipes: it
imports only the pure check, needs no file system, and is killed (and replaced on the next
import) when it overruns or the request is cancelled.

At most `workers` checks run at once and `queue` more wait; past that an import is refused at
once with 503 ``import_busy`` (try again later), and a check past `timeout_s` answers 503
``import_timeout``. Workers start with the server (`start`; or on the first import) and stay
for the next; `close` stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time
from typing import Any

from gameserver.hub.errors import HubError
from gameserver.importcheck import (
    REPLY_HEAD,
    CheckedImport,
    ImportRefused,
    decode_reply,
    encode_request,
)
from gameserver.logs import get_logger

log = get_logger("imports")

DECODE_STEP_S = 0.005
"""The event loop decodes the checked events for at most this long before it yields."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",  # the working directory is not put on sys.path: only installed code runs
            "-m",
            "gameserver.importcheck",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def ask(self, request: bytes) -> bytes:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(request)
        await self.proc.stdin.drain()
        (size,) = REPLY_HEAD.unpack(await self.proc.stdout.readexactly(REPLY_HEAD.size))
        return await self.proc.stdout.readexactly(size)

    async def stop(self, *, kill: bool = False, grace_s: float = 2.0) -> None:
        """End the worker: close its input (it exits at the end of input), or kill it."""
        with contextlib.suppress(ProcessLookupError):
            if self.proc.returncode is None:
                if kill:
                    self.proc.kill()
                elif self.proc.stdin is not None:
                    self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class ImportWorkers:
    """Checks imports in worker processes, a bounded number at a time."""

    def __init__(self, workers: int, queue: int, timeout_s: float) -> None:
        self.workers = workers
        self.queue = queue
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    async def start(self) -> None:
        """Start the workers now, with the server: starting one waits for it to exec (the
        loop stands still meanwhile: 2-56 ms measured on a busy machine), which should not
        happen while requests are served. A worker that cannot start is started on demand."""
        try:
            while len(self._idle) < self.workers:
                self._idle.append(await _Worker.start())
        except OSError as exc:
            log.error("import_worker_not_started", error=repr(exc)[:200])

    async def check(self, raw: bytes, key: bytes, tail: int = 0) -> CheckedImport:
        """The import checked in a worker: parsed and re-executed through `decide`, with its
        newest `tail` events encoded for the room.

        Raises:
            HubError: the import's refusal (400/422, as `importcheck` answers it), or 503
            (``import_busy``: every worker is busy and the queue is full; ``import_timeout``;
            ``import_unavailable``: the worker failed or the server is stopping).
        """
        if self._closed:
            raise HubError("import_unavailable", "the server is stopping", status=503)
        if self._slots.locked() and self._waiting >= self.queue:
            raise HubError(
                "import_busy",
                f"{self.workers + self._waiting} imports are being checked or waiting:"
                " try again in a few seconds",
                status=503,
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            reply = await self._ask(encode_request(raw, key, tail))
        finally:
            self._slots.release()
        try:
            name, bot_sides, secret, state, texts, tail_json, chat = decode_reply(reply)
        except ImportRefused as exc:
            log.info("import_refused", code=exc.code, status=exc.status)
            raise HubError(exc.code, exc.message, status=exc.status, details=exc.details) from None
        await asyncio.sleep(0)  # loading the reply took a few milliseconds: the loop runs first
        dicts = await _decode_in_steps(texts)
        return CheckedImport(
            state, dicts, secret, name=name, bot_sides=bot_sides, tail=tail_json, chat=chat
        )

    async def _ask(self, request: bytes) -> bytes:
        try:
            worker = self._idle.pop() if self._idle else await _Worker.start()
        except OSError as exc:  # no process could be started (limits, memory)
            log.error("import_worker_not_started", error=repr(exc)[:200])
            raise HubError(
                "import_unavailable", "the import could not be checked: try again", status=503
            ) from None
        self._busy.add(worker)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await worker.ask(request)
        except TimeoutError:
            await worker.stop(kill=True)
            log.warning("import_timeout", after_s=round(time.monotonic() - started, 1))
            raise HubError(
                "import_timeout",
                f"checking the import took longer than {self.timeout_s:g} s: try again later",
                status=503,
            ) from None
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await worker.stop(kill=True)
            log.error("import_worker_failed", error=repr(exc)[:200], code=worker.proc.returncode)
            raise HubError(
                "import_unavailable", "the import could not be checked: try again", status=503
            ) from None
        except BaseException:  # cancelled (the client left): the worker's pipe is mid-frame
            await asyncio.shield(worker.stop(kill=True))
            raise
        finally:
            self._busy.discard(worker)
        if self._closed:
            await worker.stop()
        else:
            self._idle.append(worker)
        return reply

    async def close(self) -> None:
        """Stop every worker (the server stops); a check under way ends with 503."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*[w.stop() for w in idle], *[w.stop(kill=True) for w in self._busy])


async def _decode_in_steps(texts: list[str]) -> list[dict[str, Any]]:
    """The events' JSON arrays as one list of dicts, decoded on the loop for `DECODE_STEP_S`
    at a time (12,000 events take ~150 ms: in one go that would stop the loop, in a thread it
    would hold the GIL). The decoded events are kept (the store and the room hold them), so at
    each step they leave the collector's sight (`gc.freeze`, as the app's freezer does every
    second): otherwise a full collection could walk all of them in one stop."""
    dicts: list[dict[str, Any]] = []
    deadline = time.perf_counter() + DECODE_STEP_S
    for text in texts:
        dicts += json.loads(text)
        if time.perf_counter() > deadline:
            gc.freeze()
            await asyncio.sleep(0)
            deadline = time.perf_counter() + DECODE_STEP_S
    gc.freeze()
    return dicts
