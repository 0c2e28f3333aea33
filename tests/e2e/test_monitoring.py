"""The chart's operator alerts and panels against the real operator's /metrics.

The operator reconciles a resource whose Service a ResourceQuota forbids, so the error series
(`tvtt_operator_reconcile_errors_total{cause}`) exists alongside the ordinary ones before every
operator expression of the PrometheusRule and the dashboard is checked (tests/packaging/promql.py).
"""

from __future__ import annotations

import pytest

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.operator_process import OperatorProcess, metric_sum
from tests.e2e.operator_helpers import tvtt
from tests.packaging.chart import by_kind
from tests.packaging.promql import Exposition, jobs_of, pod_monitor_jobs, problems
from tests.packaging.test_chart_monitoring import (
    DASHBOARD_VARIABLES,
    OPERATOR_JOB,
    all_expressions,
    monitoring_manifests,
)

pytestmark = pytest.mark.e2e


def test_every_operator_expression_matches_the_real_operator_metrics(
    operator: OperatorProcess, kubectl: Kubectl
) -> None:
    refused_from = operator.log_offset()
    no_services = {"services": "0"}
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-services"}}
    kubectl.apply({**quota, "spec": {"hard": no_services}})
    kubectl.apply(tvtt("quota", {"image": "ghcr.io/traveller-vtt/gameserver:0.1.0"}))
    wait_for(
        lambda: metric_sum(operator.metrics(), "tvtt_operator_reconcile_errors_total") >= 1,
        timeout=60,
        message=f"a failed reconcile (the quota refuses the Service)\n{operator.output()}",
    )
    # The quota's refusal is a 403 in the log, expected here: not an RBAC gap.
    operator.excuse(refused_from, operator.log_offset())
    manifests = monitoring_manifests()
    jobs = pod_monitor_jobs(by_kind(manifests, "PodMonitor"))
    scrape = Exposition.from_samples(OPERATOR_JOB, jobs[OPERATOR_JOB], operator.metrics())
    assert {"cause"} <= scrape.labels["tvtt_operator_reconcile_errors_total"]
    checked = [e for e in all_expressions(manifests) if jobs_of(e) == {OPERATOR_JOB}]
    assert len(checked) >= 6
    found = [p for e in checked for p in problems(e, {OPERATOR_JOB: scrape}, DASHBOARD_VARIABLES)]
    assert found == []
