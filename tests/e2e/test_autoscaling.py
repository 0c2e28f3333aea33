"""spec.autoscaling against the real control plane (kwok pods, no metrics API).

The operator writes its floor as the HPA's minReplicas; the real HPA controller then raises the
Deployment to it although it cannot read one metric (horizontal.go decides "below
Spec.MinReplicas" before reading metrics). A schedule window is the load here: kwok's pods run no
game server to poll (the connection surge is on the real node: tests/e2e/node/test_autoscaling.py).
The API server refuses malformed autoscaling with the field's name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster.kube import Kubectl
from tests.cluster.operator_process import OperatorProcess
from tests.e2e.operator_helpers import conditions, events, settle, tvtt, wait

pytestmark = pytest.mark.e2e

ALWAYS = {"name": "always-open", "start": "* * * * *", "durationMinutes": 1, "minReplicas": 3}
WINDOW_SECONDS = 20


def spec(schedule: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "redis": {"enabled": True},
        "autoscaling": {
            "minReplicas": 1,
            "maxReplicas": 4,
            "stabilizationWindowSeconds": WINDOW_SECONDS,
            "schedule": schedule,
        },
    }


def hpa_min(kubectl: Kubectl, name: str) -> int | None:
    if not kubectl.exists("horizontalpodautoscaler", name):
        return None
    value = kubectl.get("horizontalpodautoscaler", name)["spec"].get("minReplicas")
    return int(value) if value is not None else None


def test_a_schedule_window_raises_the_floor_and_the_hpa_scales_without_metrics(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    kubectl.apply(tvtt("night", spec([ALWAYS])))
    wait(operator, lambda: hpa_min(kubectl, "night") == 3, "HPA minReplicas 3 (window open)")

    def deployment_at(replicas: int) -> bool:
        deployment = kubectl.get("deployment", "night")
        return bool(deployment["spec"].get("replicas") == replicas)

    # The HPA controller, not the operator, sets the Deployment's replicas (no metrics here).
    wait(operator, lambda: deployment_at(3), "the HPA raised the Deployment to 3", timeout=120)
    hpa = kubectl.get("horizontalpodautoscaler", "night")
    # The API server adds its defaults (policies, selectPolicy) beside what the operator set.
    scale_down = hpa["spec"]["behavior"]["scaleDown"]
    assert scale_down["stabilizationWindowSeconds"] == WINDOW_SECONDS
    assert scale_down["tolerance"] == "571m"
    status = kubectl.get("travellervtt", "night")["status"]
    assert status["autoscalingFloor"] == 3
    floor = conditions(kubectl.get("travellervtt", "night"))["AutoscalingFloor"]
    assert (floor["status"], floor["reason"]) == ("True", "Schedule")
    assert "always-open" in floor["message"]

    # The window goes: the floor waits for the stabilisation window, then falls, with an Event.
    kubectl.apply(tvtt("night", spec([])))
    settle(operator, 2)
    assert hpa_min(kubectl, "night") == 3, "fell before the stabilisation window"
    held = conditions(kubectl.get("travellervtt", "night"))["AutoscalingFloor"]
    assert held["reason"] == "ScaleDownStabilizing", held
    wait(operator, lambda: hpa_min(kubectl, "night") == 1, "HPA minReplicas back to 1")
    (event,) = wait(
        operator,
        lambda: events(kubectl, "night", "AutoscalingFloorChanged") or None,
        "AutoscalingFloorChanged Event",
    )
    assert event["type"] == "Normal"
    assert event["message"].startswith("HPA minReplicas 3 → 1"), event["message"]
    floor = conditions(kubectl.get("travellervtt", "night"))["AutoscalingFloor"]
    assert (floor["status"], floor["reason"]) == ("False", "MinReplicas")


INVALID = 'The TravellerVTT "bad" is invalid'
GAME_NIGHT = {"name": "game-night", "start": "0 19 * * 5", "durationMinutes": 240, "minReplicas": 4}
REDIS = {"redis": {"enabled": True}}


@pytest.mark.parametrize(
    ("autoscaling", "expected"),
    [
        pytest.param(
            {"schedule": [{**GAME_NIGHT, "start": "0 25 * * 5"}]},
            [INVALID, "spec.autoscaling.schedule[0].start", "must be a five-field cron"],
            id="hour-25",
        ),
        pytest.param(
            {"schedule": [{**GAME_NIGHT, "start": "every friday"}]},
            [INVALID, "spec.autoscaling.schedule[0].start", "must be a five-field cron"],
            id="words",
        ),
        pytest.param(
            {"maxReplicas": 3, "schedule": [GAME_NIGHT]},
            [INVALID, "spec.autoscaling.schedule", "schedule[].minReplicas must be <="],
            id="window-above-max",
        ),
        pytest.param(
            {"schedule": [GAME_NIGHT, GAME_NIGHT]},
            [INVALID, "spec.autoscaling.schedule", "name must be unique"],
            id="duplicate-window",
        ),
        pytest.param(
            {"targetCpuUtilization": 30, "scaleDownCpuUtilization": 50},
            [INVALID, "spec.autoscaling.scaleDownCpuUtilization", "must be below"],
            id="cpu-thresholds-inverted",
        ),
        pytest.param(
            {"connectionsPerPod": 100},
            [INVALID, "spec.autoscaling.scaleDownConnectionsPerPod", "must be below"],
            id="connection-thresholds-equal",
        ),
        pytest.param(
            {"schedule": [{**GAME_NIGHT, "durationMinutes": 20000}]},
            [INVALID, "spec.autoscaling.schedule[0].durationMinutes", "less than or equal"],
            id="longer-than-a-week",
        ),
        pytest.param(
            {"stabilizationWindowSeconds": -1},
            [INVALID, "spec.autoscaling.stabilizationWindowSeconds", "greater than or equal"],
            id="negative-window",
        ),
    ],
)
def test_invalid_autoscaling_is_rejected_naming_the_field(
    crd: None, kubectl: Kubectl, autoscaling: dict[str, Any], expected: list[str]
) -> None:
    body = tvtt("bad", {**REDIS, "autoscaling": autoscaling})
    proc = kubectl.run("apply", "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode != 0, proc.stdout
    for text in expected:
        assert text in proc.stderr, proc.stderr
    assert not kubectl.exists("travellervtt", "bad")


def test_a_valid_schedule_is_accepted_with_its_defaults(crd: None, kubectl: Kubectl) -> None:
    kubectl.apply(tvtt("good", {**REDIS, "autoscaling": {"schedule": [GAME_NIGHT]}}))
    stored = kubectl.get("travellervtt", "good")["spec"]["autoscaling"]
    assert stored["schedule"] == [{**GAME_NIGHT, "timeZone": "UTC"}]
    assert (stored["minReplicas"], stored["maxReplicas"]) == (2, 10)
    assert (stored["connectionsPerPod"], stored["scaleDownConnectionsPerPod"]) == (500, 100)
