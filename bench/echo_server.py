"""The load benchmark baseline: a bare aiohttp WebSocket server: the same frames, no rules.

It answers `POST /api/battles` with a fresh id and `join` with `joined` + `snapshot`; a `command`
becomes one `event` broadcast to the battle's clients, a `legal` for the next station and an `ack` —
the same frames, in the same order, as the game server, so the load generator runs unchanged. The
awaited station moves round-robin through the battle's joined clients. What is left is aiohttp, JSON
and the fan-out: the floor under the game server's latency.

Run: `python -m bench.echo_server --port 3100`.
"""

from __future__ import annotations

import argparse
import json
import resource
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import WSMsgType, web


@dataclass
class _Battle:
    battle_id: str
    seq: int = 0
    seats: list[tuple[str, str]] = field(default_factory=list)
    sockets: dict[tuple[str, str], web.WebSocketResponse] = field(default_factory=dict)
    watchers: list[web.WebSocketResponse] = field(default_factory=list)
    turn: int = 0

    def awaiting(self) -> list[tuple[str, str]]:
        return [self.seats[self.turn % len(self.seats)]] if self.seats else []


BATTLES_KEY = web.AppKey("battles", dict[str, _Battle])


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


async def create_battle(request: web.Request) -> web.Response:
    """Any body; a new id and a join code."""
    await request.read()
    battle_id = uuid.uuid4().hex[:16]
    request.app[BATTLES_KEY][battle_id] = _Battle(battle_id)
    return web.json_response(
        {"battle_id": battle_id, "join_code": battle_id[:6].upper(), "gm_token": "x", "seq": 0},
        status=201,
    )


async def _send_legal(battle: _Battle) -> None:
    for seat in battle.awaiting():
        ws = battle.sockets.get(seat)
        if ws is not None and not ws.closed:
            await ws.send_str(
                _dumps(
                    {
                        "type": "legal",
                        "battle_id": battle.battle_id,
                        "seq": battle.seq,
                        "ship_id": seat[0],
                        "station": seat[1],
                        "commands": [{"type": "end_step"}],
                        "client_id": None,
                    }
                )
            )


async def websocket(request: web.Request) -> web.StreamResponse:
    """One client: join, then commands."""
    ws = web.WebSocketResponse(max_msg_size=16 * 1024)
    await ws.prepare(request)
    battles: dict[str, _Battle] = request.app[BATTLES_KEY]
    battle: _Battle | None = None
    seat: tuple[str, str] | None = None
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            continue
        data = json.loads(msg.data)
        if data.get("type") == "join":
            battle = battles.setdefault(data["battle_id"], _Battle(data["battle_id"]))
            if data.get("role") == "player":
                seat = (data.get("ship_id") or "", (data.get("stations") or [""])[0])
                battle.seats.append(seat)
                battle.sockets[seat] = ws
            else:  # spectators receive every frame and are never awaited
                battle.watchers.append(ws)
            await ws.send_str(
                _dumps(
                    {
                        "type": "joined",
                        "battle_id": battle.battle_id,
                        "join_code": "",
                        "role": data.get("role"),
                        "peer_id": uuid.uuid4().hex[:12],
                        "ship_id": seat[0] if seat else None,
                        "stations": [seat[1]] if seat else [],
                        "resume_token": "x",
                        "seq": battle.seq,
                        "protocol": 1,
                    }
                )
            )
            await ws.send_str(
                _dumps(
                    {
                        "type": "snapshot",
                        "battle_id": battle.battle_id,
                        "seq": battle.seq,
                        "state": {},
                        "awaiting": battle.awaiting(),
                        "is_over": False,
                    }
                )
            )
            await _send_legal(battle)
        elif data.get("type") == "command" and battle is not None:
            battle.seq += 1
            battle.turn += 1
            event = {
                "seq": battle.seq,
                "type": "echo",
                "data": data.get("command"),
                "dice": [],
                "summary": "echo",
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
            frame = _dumps(
                {
                    "type": "event",
                    "battle_id": battle.battle_id,
                    "seq": battle.seq,
                    "event": event,
                    "awaiting": battle.awaiting(),
                }
            )
            for peer in [*battle.sockets.values(), *battle.watchers]:
                if not peer.closed:
                    await peer.send_str(frame)
            await _send_legal(battle)
            await ws.send_str(
                _dumps(
                    {
                        "type": "ack",
                        "client_id": data.get("client_id"),
                        "seq": battle.seq,
                        "seqs": [battle.seq],
                    }
                )
            )
    if battle is not None and seat is not None:
        battle.sockets.pop(seat, None)
    if battle is not None and ws in battle.watchers:
        battle.watchers.remove(ws)
    return ws


async def get_battle(request: web.Request) -> web.Response:
    """The page's refetch after a batch: the battle's seq and who is awaited (no rules state)."""
    battle = request.app[BATTLES_KEY].get(request.match_info["battle_id"])
    if battle is None:
        raise web.HTTPNotFound()
    return web.json_response(
        {
            "battle_id": battle.battle_id,
            "seq": battle.seq,
            "state": {},
            "awaiting": battle.awaiting(),
            "is_over": False,
        }
    )


async def ready(request: web.Request) -> web.Response:
    """Always ready."""
    return web.json_response({"status": "ready"})


def create_app() -> web.Application:
    """The echo app."""
    app = web.Application()
    app[BATTLES_KEY] = {}
    app.router.add_post("/api/battles", create_battle)
    app.router.add_get("/api/battles/{battle_id}", get_battle)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/ready", ready)
    return app


def main() -> None:
    """Serve on --port until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    web.run_app(create_app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
