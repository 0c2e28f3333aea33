"""Processes for tests and benchmarks: free ports, real servers started and always stopped.

Stdlib only, on purpose: `python3 -m tests.cluster.controlplane` runs without a venv and imports
it. Not shipped (the distribution packages only `gameserver` and `tvtt_operator`).

- `ports`: free loopback ports.
- `processes`: stopping a child (SIGTERM, grace, SIGKILL, reap), waiting on a condition, HTTP
  status, log tails.
- `servers`: `ServerProcess`, an HTTP child on a free port (`game_server()`: the game server).
- `redis_server`: `RedisProcess`, a real redis-server that tests can SIGKILL and restart.
- `hostile`: raw WebSocket clients that misbehave on purpose (attack tests, abuse benchmark).
- `stall`: the event loop's worst stall per request (bounds test, stall benchmark).
- `largest`: the largest legal battle and import; unlike the rest it imports the game server.
"""
