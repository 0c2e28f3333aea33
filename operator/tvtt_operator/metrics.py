"""Prometheus metrics the operator exports on /metrics (reconciles, durations, errors, writes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "tvtt_operator_reconciles_total",
    "Reconciles of TravellerVTT resources by result (ok, error, invalid, paused).",
    ["result"],
)
RECONCILE_SECONDS = Histogram(
    "tvtt_operator_reconcile_duration_seconds",
    "Wall time of one reconcile, including its API writes.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RECONCILE_ERRORS = Counter(
    "tvtt_operator_reconcile_errors_total",
    "Failed reconciles by cause (api, invalid_spec, internal).",
    ["cause"],
)
API_WRITES = Counter(
    "tvtt_operator_api_writes_total",
    "Writes the operator sent to the API server by verb and kind (0 per minute when idle).",
    ["verb", "kind"],
)
QUEUE_DEPTH = Gauge("tvtt_operator_queue_depth", "Resources waiting for a reconcile.")
MANAGED = Gauge("tvtt_operator_managed_resources", "TravellerVTT resources in the watch cache.")
LEADER = Gauge(
    "tvtt_operator_leader",
    "1 while this process holds the leader election Lease (or runs without election), else 0.",
)
