"""The chart's monitoring bundle: off by default, rendered as promised when enabled, and every
PromQL expression of its alerts and dashboard matches what the real game server exports.

The game server runs as a real process (testkit) and gets real traffic before /metrics is read;
the operator's expressions are checked against the running operator in tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameserver.protocol import ErrorCode
from testkit.servers import ServerProcess, game_server
from tests.cluster.operator_process import parse_metrics
from tests.packaging.chart import RenderError, by_kind, one, render
from tests.packaging.promql import (
    Exposition,
    Expression,
    dashboard_expressions,
    dashboard_of,
    jobs_of,
    pod_monitor_jobs,
    problems,
    rule_expressions,
)

GAMESERVER_JOB = "traveller-vtt-gameserver"
OPERATOR_JOB = "traveller-vtt-operator"
DASHBOARD_VARIABLES = ("namespace", "tvtt")
ALL_ON = {
    "monitoring": {
        "podMonitors": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}
SCENARIO = {
    "name": "Metrics skirmish",
    "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
    "ships": [
        {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
        {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
    ],
    "starting_range": "short",
}


def monitoring_manifests(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The chart with the whole bundle on (plus `values`)."""
    merged = json.loads(json.dumps(ALL_ON))
    for key, value in (values or {}).items():
        merged[key] = value
    return render(merged)


def all_expressions(manifests: list[dict[str, Any]]) -> list[Expression]:
    rules = rule_expressions(one(manifests, "PrometheusRule"))
    dashboards = [
        m for m in by_kind(manifests, "ConfigMap") if m["metadata"]["name"].endswith("-dashboard")
    ]
    assert len(dashboards) == 1
    return rules + dashboard_expressions(dashboard_of(dashboards[0]))


def test_the_bundle_is_off_by_default() -> None:
    manifests = render()
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"PodMonitor", "PrometheusRule"}
    assert not [m for m in by_kind(manifests, "ConfigMap") if "dashboard" in m["metadata"]["name"]]


def test_pod_monitors_follow_the_watched_namespaces_and_name_their_jobs() -> None:
    manifests = monitoring_manifests({"watchNamespaces": ["red", "blue"]})
    monitors = {m["metadata"]["name"]: m for m in by_kind(manifests, "PodMonitor")}
    servers = monitors["tvtt-traveller-vtt-operator-gameservers"]["spec"]
    assert servers["namespaceSelector"] == {"matchNames": ["red", "blue"]}
    assert servers["selector"]["matchLabels"]["app.kubernetes.io/component"] == "gameserver"
    assert servers["podMetricsEndpoints"][0]["port"] == "http"
    assert pod_monitor_jobs(list(monitors.values())) == {
        GAMESERVER_JOB: {"job", "tvtt"},
        OPERATOR_JOB: {"job"},
    }
    wide = monitoring_manifests({"rbac": {"create": True, "clusterWide": True}})
    servers = next(m for m in by_kind(wide, "PodMonitor") if "gameservers" in m["metadata"]["name"])
    assert servers["spec"]["namespaceSelector"] == {"any": True}


def test_the_alerts_name_the_strategy_triggers_and_take_thresholds_from_values() -> None:
    rule = one(monitoring_manifests(), "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "TravellerVTTGameServerDown",
        "TravellerVTTHighErrorRatio",
        "TravellerVTTCommandLatencyHigh",
        "TravellerVTTWebSocketFailures",
        "TravellerVTTRedisDown",
        "TravellerVTTOperatorDown",
        "TravellerVTTReconcileErrors",
    }
    assert alerts["TravellerVTTHighErrorRatio"]["expr"].endswith("> 0.05")
    assert alerts["TravellerVTTCommandLatencyHigh"]["expr"].endswith("> 0.5")
    assert alerts["TravellerVTTWebSocketFailures"]["expr"].endswith("> 0.1")
    assert (
        "{{ $labels.namespace }}" in alerts["TravellerVTTGameServerDown"]["annotations"]["summary"]
    )
    tuned = monitoring_manifests(
        {
            "monitoring": {
                **ALL_ON["monitoring"],
                "prometheusRule": {"enabled": True, "errorRatio": 0.2, "for": "15m"},
            }
        }
    )
    alerts = {
        r["alert"]: r for g in one(tuned, "PrometheusRule")["spec"]["groups"] for r in g["rules"]
    }
    assert alerts["TravellerVTTHighErrorRatio"]["expr"].endswith("> 0.2")
    assert alerts["TravellerVTTHighErrorRatio"]["for"] == "15m"


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ({"enabled": True, "errorRatio": 5}, "errorRatio"),
        ({"enabled": True, "for": "soon"}, "for"),
        ({"enabled": True, "threshold": 1}, "threshold"),
    ],
)
def test_bad_monitoring_values_are_refused_by_the_schema(rule: dict[str, Any], needle: str) -> None:
    with pytest.raises(RenderError, match=needle):
        render({"monitoring": {"prometheusRule": rule}})


def test_the_dashboard_ships_with_the_sidecar_label_and_every_panel_asked_for() -> None:
    manifests = monitoring_manifests()
    config_map = next(
        m for m in by_kind(manifests, "ConfigMap") if "dashboard" in m["metadata"]["name"]
    )
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = dashboard_of(config_map)
    exprs = " ".join(e.text for e in dashboard_expressions(dashboard))
    for metric in (
        "tvtt_websocket_connections",
        "tvtt_active_battles",
        "tvtt_commands_total",
        "tvtt_command_latency_seconds_bucket",
        "tvtt_errors_total",
        "tvtt_store_ping_seconds_bucket",
        "up{",
        "tvtt_operator_reconciles_total",
    ):
        assert metric in exprs, f"no panel shows {metric}"
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(tvtt_command_latency" in exprs


def test_every_expression_selects_one_of_the_pod_monitors_jobs() -> None:
    for expression in all_expressions(monitoring_manifests()):
        jobs = jobs_of(expression)
        assert len(jobs) == 1, (expression, jobs)
        assert jobs <= {GAMESERVER_JOB, OPERATOR_JOB}, (expression, jobs)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    # One socket at most, so a second one is refused (a limit refusal and a failed upgrade).
    with game_server(tmp_path / "server.log", {"MAX_CONNECTIONS": "1"}) as proc:
        yield proc


async def play_a_little(server: ServerProcess) -> None:
    """Traffic that makes every labelled series appear: a command, an error, a refused socket."""
    async with aiohttp.ClientSession() as http:
        reply = await http.post(f"{server.url}/api/battles", json={"scenario": SCENARIO})
        assert reply.status == 201, await reply.text()
        created = await reply.json()
        async with http.ws_connect(server.ws_url) as ws:
            join = {"type": "join", "battle_id": created["battle_id"], "role": "gm"}
            await ws.send_json({**join, "gm_token": created["gm_token"]})
            assert (await ws.receive_json(timeout=10))["type"] == "joined"
            command = {"type": "gm_advance"}
            await ws.send_json({"type": "command", "client_id": "c1", "command": command})
            await ws.send_json({"type": "nonsense"})
            seen: set[str] = set()
            while not {"ack", "error"} <= seen:
                seen.add((await ws.receive_json(timeout=10))["type"])
            with pytest.raises(aiohttp.WSServerHandshakeError) as full:
                await http.ws_connect(server.ws_url)
            assert full.value.status == 503
        refused = await http.get(
            server.ws_url.replace("ws://", "http://"),
            headers={
                "Origin": "http://elsewhere.example",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert refused.status == 403


async def test_every_game_server_expression_matches_the_real_metrics(server: ServerProcess) -> None:
    await play_a_little(server)
    async with aiohttp.ClientSession() as http:
        text = await (await http.get(f"{server.url}/metrics")).text()
    manifests = monitoring_manifests()
    jobs = pod_monitor_jobs(by_kind(manifests, "PodMonitor"))
    scrape = Exposition.from_samples(GAMESERVER_JOB, jobs[GAMESERVER_JOB], parse_metrics(text))
    # The traffic produced the series the alerts divide, with their labels.
    assert {"result"} <= scrape.labels["tvtt_websocket_upgrades_total"]
    assert {"code"} <= scrape.labels["tvtt_errors_total"]
    assert {"limit"} <= scrape.labels["tvtt_limit_refusals_total"]
    assert "tvtt_store_up" in scrape.labels
    checked = [e for e in all_expressions(manifests) if jobs_of(e) == {GAMESERVER_JOB}]
    assert len(checked) >= 20
    found = [p for e in checked for p in problems(e, {GAMESERVER_JOB: scrape}, DASHBOARD_VARIABLES)]
    assert found == []


def test_the_checker_catches_a_wrong_name_a_missing_label_and_bad_promql() -> None:
    scrape = Exposition.from_samples(
        GAMESERVER_JOB,
        {"tvtt"},
        [("tvtt_commands_total", {"command": "fire", "result": "ok"}, 1.0)],
    )
    scrapes = {GAMESERVER_JOB: scrape}
    job = f'job="{GAMESERVER_JOB}"'

    def check(text: str) -> list[str]:
        return problems(Expression("t", text), scrapes, DASHBOARD_VARIABLES)

    assert check(f"sum by (command, tvtt) (rate(tvtt_commands_total{{{job}}}[5m]))") == []
    assert check(f'sum(up{{{job}, pod=~"$tvtt"}})') == []
    assert "not exported" in check(f"tvtt_command_total{{{job}}}")[0]
    assert "no label 'code'" in check(f'tvtt_commands_total{{{job}, code="x"}}')[0]
    assert "groups on 'code'" in check(f"sum by (code) (tvtt_commands_total{{{job}}})")[0]
    assert "does not parse" in check(f"sum(rate(tvtt_commands_total{{{job}}}[5m])")[0]
    assert "select job" in check("tvtt_commands_total")[0]
    assert "none of the PodMonitors" in check('tvtt_commands_total{job="other"}')[0]


def test_the_error_ratio_counts_only_codes_the_server_sends() -> None:
    rule = one(monitoring_manifests(), "PrometheusRule")
    expr = next(
        r["expr"]
        for g in rule["spec"]["groups"]
        for r in g["rules"]
        if r["alert"] == "TravellerVTTHighErrorRatio"
    )
    codes = expr.split('code=~"')[1].split('"')[0].split("|")
    assert set(codes) <= {c.value for c in ErrorCode}
