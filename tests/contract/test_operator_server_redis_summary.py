"""The operator ↔ game server seams of Redis's password and of the BATTLES/PLAYERS columns.

Both sides are imported and run for real: redis-server runs with the redis.conf and the
`--requirepass` argument the operator renders, two game server processes get the environment the
kubelet would give the rendered Deployment (Secret references resolved from the rendered Secret,
`$(VAR)` expanded), and the operator's own poller reads their `/api/summary`. A renamed variable,
a password that does not reach `REDIS_URL`, or a summary field renamed on either side fails here.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import redis
from tvtt_operator.builders import (
    REDIS_CONTAINER,
    SERVER_CONTAINER,
    Inputs,
    build_children,
    redis_maxmemory,
)
from tvtt_operator.kinds import CONFIG_MAP, DEPLOYMENT, SECRET, STATEFUL_SET
from tvtt_operator.models import TravellerVTT
from tvtt_operator.status import combine_summaries
from tvtt_operator.summary import SummaryPoller

from gameserver.settings import Settings
from testkit.ports import free_port
from testkit.processes import stop_process, wait_until
from testkit.redis_server import _ping
from testkit.servers import GAME_SERVER_ARGV, ServerProcess
from tests.server.conftest import WsPeer, scenario

PASSWORD = secrets.token_hex(24)
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def resource() -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": "seam", "namespace": "games", "uid": "u-1", "generation": 1},
            "spec": {"replicas": 2, "redis": {"enabled": True}},
        }
    )


def rendered() -> dict[tuple[str, str], dict[str, Any]]:
    children = build_children(resource(), Inputs(redis_password=PASSWORD))
    return {(m["kind"], m["metadata"]["name"]): m for m in children}


def container(workload: Mapping[str, Any], name: str) -> dict[str, Any]:
    pod = workload["spec"]["template"]["spec"]
    found: dict[str, Any] = next(c for c in pod["containers"] if c["name"] == name)
    return found


def kubelet_environment(
    c: Mapping[str, Any], children: Mapping[tuple[str, str], Mapping[str, Any]]
) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then `env` in
    order, Secret references read from the rendered Secrets, `$(NAME)` expanded from variables
    defined before (an undefined one stays as written, as in Kubernetes)."""
    out: dict[str, str] = {}
    for source in c.get("envFrom") or []:
        out.update(children[(CONFIG_MAP.kind, source["configMapRef"]["name"])]["data"])
    for item in c.get("env") or []:
        if "value" in item:
            out[item["name"]] = VARIABLE.sub(
                lambda m: out.get(m.group(1), m.group(0)), item["value"]
            )
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            data = children[(SECRET.kind, ref["name"])]["data"][ref["key"]]
            out[item["name"]] = base64.b64decode(data).decode()
    return out


def expand_args(args: list[str], env: Mapping[str, str]) -> list[str]:
    return [VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), a) for a in args]


def test_the_server_gets_the_generated_password_in_redis_url() -> None:
    children = rendered()
    env = kubelet_environment(
        container(children[(DEPLOYMENT.kind, "seam")], SERVER_CONTAINER), children
    )
    settings = Settings.model_validate({k.lower(): v for k, v in env.items()})
    assert settings.redis_url is not None
    # redis-py's from_url reads user info the way urllib does (the server's client is redis-py).
    parsed = urlsplit(settings.redis_url)
    assert parsed.password == PASSWORD
    assert parsed.hostname == "seam-redis"
    assert redis.Redis.from_url(settings.redis_url).get_connection_kwargs()["password"] == PASSWORD
    assert PASSWORD not in str(children[(DEPLOYMENT.kind, "seam")])  # only in the Secret


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[int]:
    """redis-server started with the rendered redis.conf and the container's own arguments
    (password expanded from the Secret); only address, port and directory moved to the test's."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server missing: `make install` installs it"
    children = rendered()
    statefulset = children[(STATEFUL_SET.kind, "seam-redis")]
    redis_container = container(statefulset, REDIS_CONTAINER)
    env = kubelet_environment(redis_container, children)
    conf = tmp_path / "redis.conf"
    text = children[(CONFIG_MAP.kind, "seam-redis-config")]["data"]["redis.conf"]
    assert "dir /data\n" in text  # the volume mount; redis checks it exists while reading
    conf.write_text(text.replace("dir /data\n", f"dir {tmp_path}\n"))
    args = expand_args(redis_container["args"], env)
    assert args[0] == "/etc/redis/redis.conf"
    port = free_port()
    proc = subprocess.Popen(
        [binary, str(conf), *args[1:], "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Unauthenticated PING gets -NOAUTH, not +PONG: readiness by the probe's own REDISCLI_AUTH.
        wait_until(
            lambda: _authed_ping(port, env["REDISCLI_AUTH"]),
            "redis-server answering PING with the password",
            timeout=20,
            proc=proc,
        )
        yield port
    finally:
        stop_process(proc, grace=5)


def _authed_ping(port: int, password: str) -> bool:
    try:
        return bool(redis.Redis(port=port, password=password, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def readiness_probe(port: int, env: Mapping[str, str]) -> int:
    """The Redis container's exec readiness probe, as rendered, on the test's port."""
    statefulset = rendered()[(STATEFUL_SET.kind, "seam-redis")]
    probe = container(statefulset, REDIS_CONTAINER)["readinessProbe"]["exec"]["command"]
    assert probe[-1] == "6379"
    run_env = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([*probe[:-1], str(port)], env=run_env, check=False).returncode


def test_redis_refuses_clients_without_the_password_and_never_evicts(protected_redis: int) -> None:
    assert not _ping(protected_redis)  # raw PING without AUTH
    children = rendered()
    redis_env = kubelet_environment(
        container(children[(STATEFUL_SET.kind, "seam-redis")], REDIS_CONTAINER), children
    )
    assert readiness_probe(protected_redis, {"REDISCLI_AUTH": redis_env["REDISCLI_AUTH"]}) == 0
    assert readiness_probe(protected_redis, {}) != 0  # the probe needs the password too
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=protected_redis, password="wrong" * 4).ping()
    client = redis.Redis(port=protected_redis, password=PASSWORD, decode_responses=True)
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    maxmemory: dict[str, str] = client.config_get("maxmemory")  # type: ignore[assignment]
    assert int(maxmemory["maxmemory"]) == redis_maxmemory(resource())
    assert redis_maxmemory(resource()) == 192 * 2**20  # 3/4 of the default 256Mi limit


async def test_the_operator_polls_battles_and_players_from_two_game_servers(
    protected_redis: int, tmp_path: Path
) -> None:
    """Two pods (127.0.0.1 and 127.0.0.2, same port as pods share one) on the password-protected
    Redis; one battle followed on both pods counts once, players add up."""
    children = rendered()
    env = kubelet_environment(
        container(children[(DEPLOYMENT.kind, "seam")], SERVER_CONTAINER), children
    )
    env["REDIS_URL"] = env["REDIS_URL"].replace("seam-redis:6379", f"127.0.0.1:{protected_redis}")
    port = free_port()
    pods = [
        ServerProcess(
            GAME_SERVER_ARGV,
            port=port,
            host=host,
            env={**env, "HOST": host, "PORT": str(port), "BOT_DELAY_MS": "0"},
            log_path=tmp_path / f"server-{host}.log",
            name=f"pod {host}",
        )
        for host in ("127.0.0.1", "127.0.0.2")
    ]
    poller = SummaryPoller(timeout_seconds=2.0, port=port)
    try:
        for pod in pods:
            pod.start()  # /ready pings Redis: it answers only with the password
        addresses = [pod.host for pod in pods]
        before = await poller.poll(addresses)
        assert before is not None
        assert len(before) == 2
        assert combine_summaries(list(before)) == combine_summaries([])  # 0 battles, 0 players
        async with aiohttp.ClientSession() as session:
            url_a, url_b = pods[0].url, pods[1].url
            async with session.post(f"{url_a}/api/battles", json={"scenario": scenario()}) as r:
                assert r.status == 201, await r.text()
                battle = await r.json()
            alice = WsPeer(await session.ws_connect(f"{url_a}/ws"))
            await alice.join(battle_id=battle["battle_id"], role="player", ship_id="alpha",
                             stations=["pilot"])  # fmt: skip
            bob = WsPeer(await session.ws_connect(f"{url_b}/ws"))
            await bob.join(battle_id=battle["battle_id"], role="player", ship_id="bravo",
                           stations=["pilot"])  # fmt: skip
            replies = await poller.poll(addresses)
            assert replies is not None
            summary = combine_summaries(list(replies))
            assert (summary.battles, summary.players) == (1, 2)
            # A pod that does not answer is left out; none answering keeps the last figures.
            pods[1].stop()
            one = await poller.poll(addresses)
            assert one is not None
            assert combine_summaries(list(one)).players == 1
            pods[0].stop()
            assert await poller.poll(addresses) is None
    finally:
        await poller.close()
        for pod in pods:
            pod.stop()
