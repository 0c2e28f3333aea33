"""Prometheus metrics of one app, in its own `CollectorRegistry` (tests create many apps)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True, slots=True)
class Metrics:
    """The series `/metrics` exposes; names follow Prometheus conventions (`_total`, `_seconds`)."""

    registry: CollectorRegistry
    connections: Gauge
    active_battles: Gauge
    commands: Counter
    command_latency: Histogram
    events_appended: Counter
    errors: Counter
    refusals: Counter
    upgrades: Counter
    store_up: Gauge
    store_ping: Histogram


def create_metrics() -> Metrics:
    """Build a fresh registry with every series of the game server."""
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        connections=Gauge(
            "tvtt_websocket_connections", "Open WebSocket connections", registry=registry
        ),
        active_battles=Gauge(
            "tvtt_active_battles", "Battles loaded on this instance", registry=registry
        ),
        commands=Counter(
            "tvtt_commands_total",
            "Commands received, by command type and result (ok or the error code)",
            ["command", "result"],
            registry=registry,
        ),
        command_latency=Histogram(
            "tvtt_command_latency_seconds",
            "From a command's arrival to its ack (decide + append + fan-out)",
            ["command"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=registry,
        ),
        events_appended=Counter(
            "tvtt_events_appended_total", "Events appended to battle logs", registry=registry
        ),
        errors=Counter(
            "tvtt_errors_total", "Errors sent to clients, by code", ["code"], registry=registry
        ),
        refusals=Counter(
            "tvtt_limit_refusals_total",
            "Refusals and disconnections by the server's limits, by limit (see docs/server.md)",
            ["limit"],
            registry=registry,
        ),
        # The WebSocket failure ratio alert divides the non-ok results by all of them.
        upgrades=Counter(
            "tvtt_websocket_upgrades_total",
            "WebSocket upgrade requests by result (ok, or why the socket was refused or failed)",
            ["result"],
            registry=registry,
        ),
        # Measured at each scrape of /metrics, so "Redis down" does not wait for a player.
        store_up=Gauge(
            "tvtt_store_up",
            "1 when the store (Redis) answered its ping at the last scrape",
            registry=registry,
        ),
        store_ping=Histogram(
            "tvtt_store_ping_seconds",
            "Round trip of the store's ping (Redis PING), one per scrape of /metrics",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
            registry=registry,
        ),
    )
