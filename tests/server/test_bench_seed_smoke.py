"""The seed-shape load benchmark runs end to end (a few seconds), so it cannot rot unnoticed.

Only that it completes and reports: speed is judged by `make bench`, never here.
"""

from __future__ import annotations

from bench.bench_seed import format_row, run_size


def test_seed_shape_benchmark_completes_and_reports() -> None:
    result = run_size("game", clients=4, spectators=2, duration=2.0, extra=["--warmup", "1"])
    assert result["clients"] == 4
    assert result["battles_live"] == 2
    assert result["commands_sent"] > 0
    assert set(result["latency_ms"]) == {"p50", "p95", "p99"}
    assert result["server_rss_mb"] > 0
    assert format_row(result).startswith("game")
