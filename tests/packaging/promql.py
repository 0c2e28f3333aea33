"""Check the chart's PromQL (alerts and dashboard) against what the processes really export.

Every expression of the rendered PrometheusRule and Grafana dashboard is parsed with
promql-parser (the Rust parser GreptimeDB maintains, with Python bindings); a typo in PromQL is a
parse error. Then each vector selector must name a series one of the scrapes exposed (histogram
`_bucket`/`_sum`/`_count` are real sample names, so they are found as such), select a job one of
the rendered PodMonitors creates, and use only label names the series carries or Prometheus adds
as target labels; `by`/`without`/`on`/`ignoring`/`group_left` labels likewise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import promql_parser

# Labels Prometheus adds to every series of a PodMonitor's targets (plus each relabeling's target).
POD_MONITOR_TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "container", "endpoint"}
)
# Series Prometheus makes itself for every target (not in any /metrics output).
SYNTHETIC_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# Grafana's variables, replaced by a value of the right type before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_]\w*)\)$")

Samples = Iterable[tuple[str, Mapping[str, str], float]]


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it came from (for failure messages)."""

    where: str
    text: str
    # Label names the expression must find on its series besides the selectors' (label_values).
    extra_labels: tuple[str, ...] = ()


@dataclass
class Exposition:
    """Sample names → the label names seen on them, for one scrape job."""

    job: str
    # What Prometheus adds to every series of this job (PodMonitor defaults + relabelings).
    target_labels: frozenset[str]
    labels: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def from_samples(cls, job: str, target_labels: Iterable[str], samples: Samples) -> Exposition:
        found = cls(job, POD_MONITOR_TARGET_LABELS | frozenset(target_labels))
        for name, labels, _value in samples:
            found.labels.setdefault(name, set()).update(labels)
        return found


def rule_expressions(rule: Mapping[str, Any]) -> list[Expression]:
    """The `expr` of every rule of a rendered PrometheusRule."""
    return [
        Expression(f"{group['name']}/{item.get('alert') or item.get('record')}", item["expr"])
        for group in rule["spec"]["groups"]
        for item in group["rules"]
    ]


def dashboard_expressions(dashboard: Mapping[str, Any]) -> list[Expression]:
    """Every panel target and every `label_values` variable query of a Grafana dashboard."""
    found = [
        Expression(f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = LABEL_VALUES.match(query)
        assert match, f"variable {var['name']}: only label_values(selector, label) is checked"
        found.append(Expression(f"variable {var['name']}", match["selector"], (match["label"],)))
    return found


def substitute(text: str, variables: Sequence[str]) -> str:
    """Replace Grafana's variables: intervals by durations, the dashboard's own by `.*`."""
    for name, value in GRAFANA_VARIABLES.items():
        text = text.replace(name, value)
    for name in variables:
        text = text.replace(f"${name}", ".*").replace(f"${{{name}}}", ".*")
    assert "$" not in text.replace("$labels", "").replace("$value", ""), f"unknown variable: {text}"
    return text


def _selectors(expr: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(expr, visit)
    return found


def _grouping(node: Any) -> list[str]:
    """Label names of an aggregation's by/without or a binary operation's on/ignoring/group_x."""
    names: list[str] = []
    if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
        names += list(node.modifier.labels)
    if isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
        if node.modifier.matching is not None:
            names += list(node.modifier.matching.labels)
        names += list(node.modifier.group_labels or [])
    return names


def problems(
    expression: Expression,
    scrapes: Mapping[str, Exposition],
    variables: Sequence[str] = (),
) -> list[str]:
    """Why `expression` would select nothing or group on missing labels (empty when sound)."""
    where = expression.where
    try:
        tree = promql_parser.parse(substitute(expression.text, variables))
    except ValueError as exc:
        return [f"{where}: PromQL does not parse: {exc}"]
    found: list[str] = []
    selector_labels: set[str] = set()

    def series_labels(selector: Any) -> set[str] | None:
        matchers = {m.name: m for m in selector.matchers.matchers}
        job = matchers.get("job")
        if job is None or job.op != promql_parser.MatchOp.Equal:
            found.append(f'{where}: {selector} does not select job="…" exactly')
            return None
        scrape = scrapes.get(job.value)
        if scrape is None:
            found.append(
                f"{where}: job {job.value!r} is none of the PodMonitors' {sorted(scrapes)}"
            )
            return None
        name = selector.name
        if name not in SYNTHETIC_SERIES and name not in scrape.labels:
            found.append(f"{where}: {name} is not exported by job {job.value}")
            return None
        return _labels_of(selector, scrapes)

    for selector in _selectors(tree):
        labels = series_labels(selector)
        if labels is None:
            continue
        selector_labels |= labels
        for matcher in selector.matchers.matchers:
            if matcher.name not in labels:
                found.append(f"{where}: {selector.name} has no label {matcher.name!r}")

    def visit(node: Any) -> None:
        if not isinstance(node, (promql_parser.AggregateExpr, promql_parser.BinaryExpr)):
            return
        inner: set[str] = set()
        for selector in _selectors(node):
            inner |= _labels_of(selector, scrapes)
        for name in _grouping(node):
            if name not in inner:
                found.append(f"{where}: groups on {name!r}, which its series do not carry")

    promql_parser.walk(tree, visit)
    for name in expression.extra_labels:
        if name not in selector_labels:
            found.append(f"{where}: label_values asks for {name!r}, which the series lack")
    return found


def _labels_of(selector: Any, scrapes: Mapping[str, Exposition]) -> set[str]:
    job = next((m.value for m in selector.matchers.matchers if m.name == "job"), None)
    scrape = scrapes.get(job or "")
    if scrape is None:
        return set()
    return set(scrape.labels.get(selector.name, set())) | scrape.target_labels


def pod_monitor_jobs(pod_monitors: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Job name → the target labels its relabelings add, for each rendered PodMonitor."""
    jobs: dict[str, set[str]] = {}
    for monitor in pod_monitors:
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            relabelings = endpoint.get("relabelings", [])
            job = next(r["replacement"] for r in relabelings if r["targetLabel"] == "job")
            jobs[job] = {r["targetLabel"] for r in relabelings}
    return jobs


def dashboard_of(config_map: Mapping[str, Any]) -> dict[str, Any]:
    """The dashboard JSON a rendered ConfigMap carries (exactly one)."""
    (text,) = config_map["data"].values()
    dashboard: dict[str, Any] = json.loads(text)
    return dashboard


def jobs_of(expression: Expression) -> set[str]:
    """The jobs an expression's selectors name (`job="…"`), to check it against their scrapes."""
    tree = promql_parser.parse(substitute(expression.text, ("namespace", "tvtt")))
    return {m.value for s in _selectors(tree) for m in s.matchers.matchers if m.name == "job"}
