"""Automatic rollback on the real node: a bad release is rolled back within the analysis window,
a good one is promoted.

The operator runs from its chart with `spec.rollout.analysis` on an in-memory TravellerVTT (one
game-server pod). The bad release turns on the game server's test-only `TEST_FAIL_COMMANDS`
(`spec.server.testFailCommands`): its pod passes every probe and becomes Ready, but answers each
command `internal_error`. A player plays at the new pod; the operator reads the pod's /metrics,
sees the error ratio above 5 % and puts the previous ReplicaSet's template back
(RolledBack=True, reason ErrorRatio, an Event), and does not apply the bad template again while
the resource stays as it is. A later good release (a pod annotation) is promoted once the window
has passed. The times from the bad rollout to the rollback are printed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import aiohttp
import pytest
from tvtt_operator.analysis import SERVER_FAILURES
from tvtt_operator.builders import ANNOTATION_TEMPLATE_HASH, TEST_FAIL_COMMANDS_ENV

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import RealNode
from tests.e2e.node.test_real_pods import pod_ready
from tests.e2e.test_chart import condition, is_ready
from tests.server.conftest import scenario

pytestmark = pytest.mark.node

NAME = "rollback"
SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=gameserver"
WINDOW = 30  # seconds; the strategy's thresholds stay at their defaults
MIN_SAMPLES = 5
COMMANDS = 8
ANALYSIS_TICK = 5  # TVTT_OPERATOR_ANALYSIS_SECONDS' default


def resource(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": NAME},
        "spec": {
            "image": image,
            "replicas": 1,
            "redis": {"enabled": False},
            "drain": {"terminationGracePeriodSeconds": 15},
            "rollout": {"analysis": {"windowSeconds": WINDOW, "minSamples": MIN_SAMPLES}},
        },
    }


def template_hash(obj: dict[str, Any]) -> str:
    meta = obj["spec"]["template"]["metadata"] if "template" in obj["spec"] else obj["metadata"]
    return str(meta["annotations"][ANNOTATION_TEMPLATE_HASH])


def new_template(kubectl: Kubectl, *old: str) -> str | None:
    """The Deployment's template hash once it is none of `old`."""
    found = template_hash(deployment(kubectl))
    return None if found in old else found


def deployment(kubectl: Kubectl) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.get("deployment", NAME)
    return found


def ready_pod_of(kubectl: Kubectl, hash_: str) -> str | None:
    """The IP of a Ready, not terminating game server pod of template `hash_`."""
    for pod in kubectl.get("pods", None, "-l", SELECTOR)["items"]:
        meta = pod["metadata"]
        if (
            meta.get("annotations", {}).get(ANNOTATION_TEMPLATE_HASH) == hash_
            and pod_ready(pod)
            and not meta.get("deletionTimestamp")
        ):
            return str(pod["status"]["podIP"])
    return None


def only_pods_of(kubectl: Kubectl, hash_: str) -> bool:
    pods = kubectl.get("pods", None, "-l", SELECTOR)["items"]
    return bool(pods) and all(
        p["metadata"].get("annotations", {}).get(ANNOTATION_TEMPLATE_HASH) == hash_ and pod_ready(p)
        for p in pods
    )


async def play(ip: str, commands: int) -> list[str]:
    """Create a battle on the pod at `ip`, take a station, send commands; their answers
    (`ok` or the error code)."""
    answers: list[str] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        created = await http.post(f"http://{ip}:3000/api/battles", json={"scenario": scenario()})
        assert created.status == 201, await created.text()
        battle = await created.json()
        async with http.ws_connect(f"ws://{ip}:3000/ws") as ws:
            await ws.send_json(
                {
                    "type": "join",
                    "battle_id": battle["battle_id"],
                    "role": "player",
                    "ship_id": "alpha",
                    "stations": ["pilot"],
                }
            )
            while (await ws.receive_json(timeout=30))["type"] != "joined":
                pass
            for i in range(commands):
                client_id = f"probe-{i}"
                command = {"type": "evasive_action", "ship_id": "alpha"}
                await ws.send_json({"type": "command", "client_id": client_id, "command": command})
                while True:
                    frame = await ws.receive_json(timeout=30)
                    if frame.get("client_id") == client_id and frame["type"] in ("ack", "error"):
                        answers.append("ok" if frame["type"] == "ack" else frame["code"])
                        break
    return answers


def patch_spec(kubectl: Kubectl, spec: dict[str, Any]) -> None:
    kubectl("patch", "travellervtt", NAME, "--type=merge", "-p", json.dumps({"spec": spec}))


def events(kubectl: Kubectl, reason: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.get(
        "events", None, "--field-selector", f"involvedObject.name={NAME},reason={reason}"
    )["items"]
    return items


def rolled_back_condition(kubectl: Kubectl) -> dict[str, Any] | None:
    return condition(kubectl.get("travellervtt", NAME), "RolledBack")


@pytest.mark.timeout(600)
def test_a_bad_release_is_rolled_back_within_the_window_and_a_good_one_promoted(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    kubectl.apply(resource(real_node.refs["server"]))
    wait_for(lambda: is_ready(kubectl, NAME), timeout=180, message="TravellerVTT Ready")
    good_hash = template_hash(deployment(kubectl))
    wait_for(lambda: ready_pod_of(kubectl, good_hash), timeout=120, message="first pod")
    assert rolled_back_condition(kubectl) is None, "the first template is not analysed"

    # --- the bad release ------------------------------------------------------------------
    started = time.monotonic()
    patch_spec(kubectl, {"server": {"testFailCommands": True}})
    bad_hash = wait_for(
        lambda: new_template(kubectl, good_hash),
        timeout=30,
        message="the bad template applied",
    )
    env = deployment(kubectl)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": TEST_FAIL_COMMANDS_ENV, "value": "true"} in env
    analysing = wait_for(lambda: rolled_back_condition(kubectl), timeout=30, message="analysis")
    assert analysing["reason"] == "Analysing", analysing
    bad_ip = wait_for(lambda: ready_pod_of(kubectl, bad_hash), timeout=120, message="bad pod")
    ready_after = time.monotonic() - started
    answers = asyncio.run(play(bad_ip, COMMANDS))
    assert set(answers) <= SERVER_FAILURES, answers
    assert len(answers) == COMMANDS
    played_after = time.monotonic() - started

    rolled = wait_for(
        lambda: (c := rolled_back_condition(kubectl)) and c["status"] == "True" and c,
        timeout=WINDOW + 60,
        message="RolledBack=True",
    )
    rolled_back_after = time.monotonic() - started
    assert rolled["reason"] == "ErrorRatio", rolled
    # Judged at the first analysis round with at least minSamples commands: all had failed.
    counted = re.search(r"\((\d+) of (\d+) commands failed\)", rolled["message"])
    assert counted is not None, rolled
    assert counted[1] == counted[2], rolled
    assert MIN_SAMPLES <= int(counted[1]) <= COMMANDS, rolled
    assert template_hash(deployment(kubectl)) == good_hash, "the previous template is back"
    wait_for(lambda: only_pods_of(kubectl, good_hash), timeout=120, message="good pods back")
    restored_after = time.monotonic() - started
    assert events(kubectl, "Promoted") == [], "rolled back, never promoted"

    tvtt = kubectl.get("travellervtt", NAME)
    overridden = condition(tvtt, "TemplateOverridden")
    assert overridden is not None
    assert (overridden["status"], overridden["reason"]) == ("True", "AutomaticRollback")
    assert tvtt["spec"]["server"]["testFailCommands"] is True, "the spec is the person's"
    (event,) = events(kubectl, "RolledBack")
    assert event["type"] == "Warning"
    assert "error ratio 100.0 %" in event["message"], event
    assert events(kubectl, "ManualRollback") == []

    # Not retried while the resource stays as it is (a few analysis rounds and reconciles).
    generation = deployment(kubectl)["metadata"]["generation"]
    time.sleep(3 * ANALYSIS_TICK)
    assert deployment(kubectl)["metadata"]["generation"] == generation
    assert template_hash(deployment(kubectl)) == good_hash
    assert events(kubectl, "ManualRollback") == []

    # --- a good release -------------------------------------------------------------------
    patch_spec(
        kubectl,
        {"server": {"testFailCommands": False}, "podAnnotations": {"tvtt-test/release": "good"}},
    )
    new_hash = wait_for(
        lambda: new_template(kubectl, good_hash, bad_hash),
        timeout=30,
        message="the good release applied",
    )
    new_ip = wait_for(lambda: ready_pod_of(kubectl, new_hash), timeout=120, message="new pod")
    answers = asyncio.run(play(new_ip, COMMANDS))
    assert not set(answers) & SERVER_FAILURES, answers
    promoted = wait_for(
        lambda: (c := rolled_back_condition(kubectl)) and c["reason"] == "Promoted" and c,
        timeout=WINDOW + 90,
        message="Promoted",
    )
    assert promoted["status"] == "False"
    assert f"error ratio 0.0 % of {COMMANDS} commands" in promoted["message"], promoted
    assert template_hash(deployment(kubectl)) == new_hash
    overridden = condition(kubectl.get("travellervtt", NAME), "TemplateOverridden")
    assert overridden is not None
    assert overridden["status"] == "False"
    assert len(events(kubectl, "Promoted")) == 1
    print(
        f"bad release: pod Ready {ready_after:.1f}s after the patch, {COMMANDS} commands failed "
        f"by {played_after:.1f}s, RolledBack=True at {rolled_back_after:.1f}s "
        f"({rolled_back_after - played_after:.1f}s after the last failed command), the previous "
        f"template's pod serving alone at {restored_after:.1f}s; window {WINDOW}s"
    )
