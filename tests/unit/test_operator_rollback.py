"""The reconciler's side of the rollout analysis without a cluster: a new template starts an
analysis, a verdict to roll back puts the previous ReplicaSet's template back (guarded JSON
patch), reports it (RolledBack=True, an Event, no ManualRollback) and never re-applies the bad
template at the same generation."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tvtt_operator.analysis import Decision, Figures, Reading, Trigger, Verdict
from tvtt_operator.builders import ROLLBACK_FIELD_MANAGER, build_children, template_hash
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import ChildKind
from tvtt_operator.models import TravellerVTT
from tvtt_operator.reconciler import Reconciler

KEY = ("games", "skirmish")
DEPLOYMENT_UID = "dep-uid"


def body(image: str, generation: int, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {
            "name": "skirmish",
            "namespace": "games",
            "uid": "u1",
            "generation": generation,
        },
        "spec": {"image": image, "redis": {"enabled": False}, "rollout": {"analysis": {}}},
        "status": status or {},
    }


def deployment_of(image: str) -> dict[str, Any]:
    tvtt = TravellerVTT.model_validate(body(image, 1))
    found = next(m for m in build_children(tvtt) if m["kind"] == "Deployment")
    found["metadata"].update(uid=DEPLOYMENT_UID, generation=1)
    found["metadata"]["ownerReferences"] = [
        {"apiVersion": "traveller-vtt.io/v1alpha1", "kind": "TravellerVTT", "name": "skirmish",
         "uid": "u1", "controller": True}
    ]  # fmt: skip
    return found


def replica_set(deployment: dict[str, Any], revision: int) -> dict[str, Any]:
    template = copy.deepcopy(deployment["spec"]["template"])
    template["metadata"]["labels"]["pod-template-hash"] = f"rs{revision}"
    return {
        "metadata": {
            "name": f"skirmish-rs{revision}",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"uid": DEPLOYMENT_UID, "controller": True}],
        },
        "spec": {"template": template},
    }


class FakeClient:
    """Records writes; the rollback's JSON patch is applied to the Deployment it knows."""

    def __init__(self, replica_sets: list[dict[str, Any]]) -> None:
        self.replica_sets = replica_sets
        self.applied: list[dict[str, Any]] = []
        self.patches: list[tuple[str, list[dict[str, Any]], str]] = []
        self.events: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.deployment: dict[str, Any] | None = None

    async def apply(self, manifest: dict[str, Any], *, manager: str = "") -> dict[str, Any]:
        live = copy.deepcopy(manifest)
        if live["kind"] == "Deployment":
            live["metadata"].update(uid=DEPLOYMENT_UID, generation=2)
            live["metadata"]["ownerReferences"] = deployment_of("x")["metadata"]["ownerReferences"]
            self.deployment = live
        self.applied.append(live)
        return live

    async def list_objects(
        self, kind: ChildKind, namespace: str, selector: str
    ) -> list[dict[str, Any]]:
        assert kind.kind == "ReplicaSet"
        return self.replica_sets

    async def json_patch(
        self,
        kind: ChildKind,
        namespace: str,
        name: str,
        operations: list[dict[str, Any]],
        *,
        manager: str = "",
    ) -> dict[str, Any]:
        assert self.deployment is not None
        test, replace = operations
        assert template_hash(self.deployment) == test["value"], "the guard holds"
        self.patches.append((name, operations, manager))
        patched = copy.deepcopy(self.deployment)
        patched["spec"]["template"] = replace["value"]
        self.deployment = patched
        return patched

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        self.statuses.append(status)
        return {"kind": "TravellerVTT", "metadata": {"namespace": namespace, "name": name}}

    async def post_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


async def test_a_bad_release_is_rolled_back_reported_and_not_retried() -> None:
    good = deployment_of("good:1")
    good_rs = replica_set(good, 1)
    cache = Cache()
    applied = {"appliedGeneration": 1, "appliedTemplateHash": template_hash(good)}
    cache.put(body("bad:2", 2, applied))
    for child in build_children(TravellerVTT.model_validate(body("good:1", 1))):
        if child["kind"] != "Deployment":
            cache.put(child)
    cache.put(good)
    client = FakeClient([good_rs])
    reconciler = Reconciler(client, cache, OperatorConfig())  # type: ignore[arg-type]

    # 1. The new template is applied: its analysis starts.
    assert await reconciler.reconcile(KEY)
    assert client.deployment is not None
    bad_hash = template_hash(client.deployment)
    assert bad_hash != template_hash(good)
    (status,) = client.statuses
    assert status["rolloutAnalysis"]["phase"] == "Analysing"
    assert status["rolloutAnalysis"]["templateHash"] == bad_hash
    assert conditions(status)["RolledBack"]["reason"] == "Analysing"
    assert [e["reason"] for e in client.events if e["reason"] == "AnalysisStarted"]

    # 2. The analysis timer's verdict: roll back.
    client.replica_sets = [good_rs, replica_set(client.deployment, 2)]
    cache.put(body("bad:2", 2, status))
    verdict = Verdict(Decision.ROLL_BACK, "error ratio 100.0 % > 5 %", Trigger.ERROR_RATIO)
    reconciler.verdicts[KEY] = (bad_hash or "", verdict)
    client.events.clear()
    assert await reconciler.reconcile(KEY)
    ((name, ops, manager),) = client.patches
    assert (name, manager) == ("skirmish", ROLLBACK_FIELD_MANAGER)
    restored = ops[1]["value"]
    assert restored["spec"]["containers"][0]["image"] == "good:1"
    assert "pod-template-hash" not in restored["metadata"]["labels"]
    status = client.statuses[-1]
    rolled_back = conditions(status)["RolledBack"]
    assert (rolled_back["status"], rolled_back["reason"]) == ("True", "ErrorRatio")
    assert "100.0 %" in rolled_back["message"]
    overridden = conditions(status)["TemplateOverridden"]
    assert (overridden["status"], overridden["reason"]) == ("True", "AutomaticRollback")
    assert status["image"] == "good:1"
    reasons = [e["reason"] for e in client.events]
    assert "RolledBack" in reasons
    assert "ManualRollback" not in reasons

    # 3. The next reconciles (same generation) leave the restored template alone, quietly.
    cache.put(body("bad:2", 2, status))
    client.events.clear()
    applied_before = len(client.applied)
    reconciler.verdicts.clear()
    assert await reconciler.reconcile(KEY)
    assert not [m for m in client.applied[applied_before:] if m["kind"] == "Deployment"]
    assert len(client.patches) == 1
    assert client.events == []
    assert client.deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "good:1"


async def test_a_persons_undo_during_the_analysis_is_respected() -> None:
    good = deployment_of("good:1")
    bad = deployment_of("bad:2")
    analysing = {
        "templateHash": template_hash(bad),
        "generation": 2,
        "startedAt": "2026-12-02T16:00:00Z",
        "phase": "Analysing",
    }
    status = {"appliedGeneration": 2, "appliedTemplateHash": template_hash(bad)}
    cache = Cache()
    cache.put(body("bad:2", 2, {**status, "rolloutAnalysis": analysing}))
    for child in build_children(TravellerVTT.model_validate(body("bad:2", 2))):
        if child["kind"] != "Deployment":
            cache.put(child)
    cache.put(good)  # `kubectl rollout undo` put the good template back
    client = FakeClient([replica_set(good, 1)])
    reconciler = Reconciler(client, cache, OperatorConfig())  # type: ignore[arg-type]
    reconciler.verdicts[KEY] = (
        template_hash(bad) or "",
        Verdict(Decision.PROMOTE, "no trigger fired"),
    )

    assert await reconciler.reconcile(KEY)

    assert client.patches == []
    assert not [m for m in client.applied if m["kind"] == "Deployment"]
    written = client.statuses[-1]
    assert written["rolloutAnalysis"]["phase"] == "Cancelled"
    assert conditions(written)["TemplateOverridden"]["reason"] == "ManualRollback"
    assert "ManualRollback" in [e["reason"] for e in client.events]


async def test_the_analysis_timer_turns_failing_pods_into_a_verdict_and_a_reconcile() -> None:
    bad = deployment_of("bad:2")
    bad["spec"]["replicas"] = 1
    bad["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
    }
    analysing = {
        "templateHash": template_hash(bad),
        "generation": 2,
        "startedAt": "2026-12-02T16:00:00Z",
        "phase": "Analysing",
    }
    cache = Cache()
    cache.put(body("bad:2", 2, {"rolloutAnalysis": analysing}))
    cache.put(bad)
    reconciler = Reconciler(FakeClient([]), cache, OperatorConfig())  # type: ignore[arg-type]
    seen: list[tuple[str, list[str]]] = []

    async def look(template_hash: str, pods: Mapping[str, Mapping[str, Any]]) -> Reading:
        seen.append((template_hash, sorted(pods)))
        return Reading(Figures(commands=20, failed_commands=20))

    reconciler.watcher.look = look  # type: ignore[method-assign]
    tvtt = TravellerVTT.model_validate(cache.owner(KEY))

    await reconciler._analyse_one(KEY, tvtt)

    assert seen == [(template_hash(bad), [])]
    template, verdict = reconciler.verdicts[KEY]
    assert template == template_hash(bad)
    assert (verdict.decision, verdict.trigger) == (Decision.ROLL_BACK, Trigger.ERROR_RATIO)
    assert reconciler._queue.qsize() == 1, "the resource is reconciled to act on it"
    await reconciler.stop()
