"""Pure builders: every child manifest and the status, built without a cluster."""

from __future__ import annotations

from typing import Any

import pytest
from tvtt_operator import builders
from tvtt_operator.builders import (
    ANNOTATION_APPLIED_HASH,
    ANNOTATION_TEMPLATE_HASH,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    build_children,
)
from tvtt_operator.models import (
    Condition,
    ConditionStatus,
    ConditionType,
    TravellerVTT,
    TravellerVTTStatus,
)
from tvtt_operator.status import Observation, build_conditions, build_status, transitions


def make(spec: dict[str, Any] | None = None, *, generation: int = 1, **meta: Any) -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {
                "name": "skirmish",
                "namespace": "games",
                "uid": "0000-uid",
                "generation": generation,
                **meta,
            },
            "spec": spec or {},
        }
    )


REDIS = {"redis": {"enabled": True}}
IN_MEMORY = {"redis": {"enabled": False}}


def children(tvtt: TravellerVTT) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in build_children(tvtt)}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return found


def env(deployment: dict[str, Any]) -> dict[str, str]:
    """Literal variables; a Secret reference shows as `secret:<name>/<key>`."""
    out = {}
    for e in container(deployment)["env"]:
        if "value" in e:
            out[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = f"secret:{ref['name']}/{ref['key']}"
    return out


class TestChildrenSet:
    @pytest.mark.parametrize(
        ("spec", "kinds"),
        [
            pytest.param(
                IN_MEMORY,
                {("ConfigMap", "skirmish-config"), ("Service", "skirmish"),
                 ("Deployment", "skirmish"), ("PodDisruptionBudget", "skirmish"),
                 ("NetworkPolicy", "skirmish")},
                id="in-memory",
            ),
            pytest.param(
                {},
                {("ConfigMap", "skirmish-config"), ("Service", "skirmish"),
                 ("Deployment", "skirmish"), ("PodDisruptionBudget", "skirmish"),
                 ("ConfigMap", "skirmish-redis-config"), ("Service", "skirmish-redis"),
                 ("StatefulSet", "skirmish-redis"), ("Secret", "skirmish-redis-auth"),
                 ("NetworkPolicy", "skirmish"), ("NetworkPolicy", "skirmish-redis")},
                id="minimal-keeps-battles-in-redis",
            ),
            pytest.param(
                {**REDIS, "autoscaling": {"maxReplicas": 4}, "ingress": {"host": "vtt.example"}},
                {("ConfigMap", "skirmish-config"), ("Service", "skirmish"),
                 ("Deployment", "skirmish"), ("PodDisruptionBudget", "skirmish"),
                 ("ConfigMap", "skirmish-redis-config"), ("Service", "skirmish-redis"),
                 ("StatefulSet", "skirmish-redis"), ("HorizontalPodAutoscaler", "skirmish"),
                 ("Ingress", "skirmish"), ("Secret", "skirmish-redis-auth"),
                 ("NetworkPolicy", "skirmish"), ("NetworkPolicy", "skirmish-redis")},
                id="everything",
            ),
        ],
    )  # fmt: skip
    def test_children_follow_the_spec(
        self, spec: dict[str, Any], kinds: set[tuple[str, str]]
    ) -> None:
        assert set(children(make(spec))) == kinds

    def test_every_child_is_owned_labelled_and_stamped(self) -> None:
        tvtt = make({**REDIS, "autoscaling": {"maxReplicas": 4}, "ingress": {"host": "a.b"}})
        for manifest in build_children(tvtt):
            meta = manifest["metadata"]
            assert meta["namespace"] == "games"
            (owner,) = meta["ownerReferences"]
            assert owner == {
                "apiVersion": "traveller-vtt.io/v1alpha1",
                "kind": "TravellerVTT",
                "name": "skirmish",
                "uid": "0000-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
            assert meta["labels"][LABEL_INSTANCE] == "skirmish"
            assert meta["labels"][LABEL_MANAGED_BY] == "traveller-vtt-operator"
            assert meta["labels"]["app.kubernetes.io/name"] == "traveller-vtt"
            assert len(meta["annotations"][ANNOTATION_APPLIED_HASH]) == 16

    def test_rendering_is_deterministic_and_hashes_track_the_spec(self) -> None:
        assert build_children(make()) == build_children(make())
        before = children(make())
        after = children(make({"service": {"port": 8080}}))
        h = ANNOTATION_APPLIED_HASH
        svc = ("Service", "skirmish")
        cm = ("ConfigMap", "skirmish-config")
        assert before[svc]["metadata"]["annotations"][h] != after[svc]["metadata"]["annotations"][h]
        assert before[cm]["metadata"]["annotations"][h] == after[cm]["metadata"]["annotations"][h]


class TestDeployment:
    def test_probes_drain_and_rolling_update(self) -> None:
        deployment = children(make({"drain": {"terminationGracePeriodSeconds": 90}}))[
            ("Deployment", "skirmish")
        ]
        spec = deployment["spec"]
        assert spec["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        }
        c = container(deployment)
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["startupProbe"]["httpGet"]["path"] == "/health"
        assert c["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
        assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 90
        assert env(deployment)["SHUTDOWN_GRACE_S"] == "80"
        assert env(deployment)["PORT"] == "3000"
        assert env(deployment)["HOST"] == "0.0.0.0"
        assert c["envFrom"] == [{"configMapRef": {"name": "skirmish-config"}}]

    def test_runs_as_non_root(self) -> None:
        deployment = children(make())[("Deployment", "skirmish")]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        c = container(deployment)
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}

    @pytest.mark.parametrize(
        ("spec", "replicas"),
        [
            pytest.param({}, 1, id="default-one"),
            pytest.param({**REDIS, "replicas": 3}, 3, id="fixed"),
            pytest.param({**REDIS, "replicas": 0}, 0, id="zero"),
            pytest.param({**REDIS, "autoscaling": {"maxReplicas": 3}}, None, id="hpa-owns-it"),
        ],
    )
    def test_replicas_are_sent_only_without_autoscaling(
        self, spec: dict[str, Any], replicas: int | None
    ) -> None:
        deployment = children(make(spec))[("Deployment", "skirmish")]
        assert deployment["spec"].get("replicas") == replicas

    @pytest.mark.parametrize(
        ("spec", "url"),
        [
            pytest.param(IN_MEMORY, None, id="in-memory"),
            pytest.param(REDIS, "redis://:$(REDIS_PASSWORD)@skirmish-redis:6379/0", id="redis"),
            pytest.param({}, "redis://:$(REDIS_PASSWORD)@skirmish-redis:6379/0", id="default"),
        ],
    )
    def test_redis_url_only_with_redis(self, spec: dict[str, Any], url: str | None) -> None:
        variables = env(children(make(spec))[("Deployment", "skirmish")])
        assert variables.get("REDIS_URL") == url
        if url is not None:
            # Defined before REDIS_URL: the kubelet expands only variables defined earlier.
            names = list(variables)
            assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
            assert variables["REDIS_PASSWORD"] == "secret:skirmish-redis-auth/password"

    def test_resources_scheduling_and_pod_metadata_pass_through(self) -> None:
        deployment = children(
            make(
                {
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": 1},
                    },
                    "podLabels": {"team": "refs", LABEL_INSTANCE: "hijack"},
                    "podAnnotations": {"note": "x"},
                    "nodeSelector": {"pool": "games"},
                    "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                    "affinity": {"nodeAffinity": {"x": 1}},
                }
            )
        )[("Deployment", "skirmish")]
        template = deployment["spec"]["template"]
        assert container(deployment)["resources"] == {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": 1},
        }
        assert template["metadata"]["labels"]["team"] == "refs"
        assert template["metadata"]["labels"][LABEL_INSTANCE] == "skirmish"  # ours win
        assert template["metadata"]["annotations"]["note"] == "x"
        assert template["spec"]["nodeSelector"] == {"pool": "games"}
        assert template["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
        assert template["spec"]["affinity"] == {"nodeAffinity": {"x": 1}}

    def test_template_hash_tracks_the_template_not_the_generation(self) -> None:
        one = children(make(generation=1))[("Deployment", "skirmish")]
        two = children(make(generation=2))[("Deployment", "skirmish")]
        image = children(make({"image": "other:2"}))[("Deployment", "skirmish")]

        def tmpl_hash(d: dict[str, Any]) -> str:
            return str(d["spec"]["template"]["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH])

        assert builders.template_hash(one) == tmpl_hash(one)
        assert tmpl_hash(one) == tmpl_hash(two)
        assert tmpl_hash(one) != tmpl_hash(image)
        # The generation is not part of the applied-hash: a no-op edit is not an operator upgrade.
        h = ANNOTATION_APPLIED_HASH
        assert one["metadata"]["annotations"][h] == two["metadata"]["annotations"][h]

    def test_config_changes_roll_the_pods(self) -> None:
        a = children(make({"server": {"maxConnections": 10}}))[("Deployment", "skirmish")]
        b = children(make({"server": {"maxConnections": 20}}))[("Deployment", "skirmish")]
        key = builders.ANNOTATION_CONFIG_HASH
        assert (
            a["spec"]["template"]["metadata"]["annotations"][key]
            != b["spec"]["template"]["metadata"]["annotations"][key]
        )


class TestOtherChildren:
    @pytest.mark.parametrize(
        ("ingress", "origins"),
        [
            pytest.param(
                {"host": "vtt.example"}, "https://vtt.example,http://vtt.example", id="plain-http"
            ),
            pytest.param(
                {"host": "vtt.example", "tlsSecretName": "c"}, "https://vtt.example", id="tls"
            ),
        ],
    )
    def test_configmap_carries_server_settings_and_origins(
        self, ingress: dict[str, Any], origins: str
    ) -> None:
        cm = children(make({"server": {"logLevel": "debug"}, "ingress": ingress}))[
            ("ConfigMap", "skirmish-config")
        ]
        assert cm["data"] == {
            "LOG_LEVEL": "debug",
            "MAX_CONNECTIONS": "1000",
            "ALLOWED_ORIGINS": origins,
        }

    def test_service(self) -> None:
        svc = children(make({"service": {"type": "LoadBalancer", "port": 8080}}))[
            ("Service", "skirmish")
        ]
        assert svc["spec"]["type"] == "LoadBalancer"
        assert svc["spec"]["ports"] == [
            {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
        ]
        assert svc["spec"]["selector"][LABEL_INSTANCE] == "skirmish"

    def test_hpa(self) -> None:
        spec = {
            **REDIS,
            "autoscaling": {"minReplicas": 2, "maxReplicas": 7, "targetCpuUtilization": 55},
        }
        hpa = children(make(spec))[("HorizontalPodAutoscaler", "skirmish")]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "skirmish",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 7)
        target = hpa["spec"]["metrics"][0]["resource"]["target"]
        assert target == {"type": "Utilization", "averageUtilization": 55}

    @pytest.mark.parametrize(
        ("disruption", "expected"),
        [
            pytest.param({}, {"maxUnavailable": 1}, id="default"),
            pytest.param({"maxUnavailable": "50%"}, {"maxUnavailable": "50%"}, id="max-percent"),
            pytest.param({"minAvailable": 2}, {"minAvailable": 2}, id="min"),
        ],
    )
    def test_pdb(self, disruption: dict[str, Any], expected: dict[str, Any]) -> None:
        pdb = children(make({"disruption": disruption}))[("PodDisruptionBudget", "skirmish")]
        budget = {k: v for k, v in pdb["spec"].items() if k in ("maxUnavailable", "minAvailable")}
        assert budget == expected

    @pytest.mark.parametrize(
        ("ingress", "tls", "class_name"),
        [
            pytest.param({"host": "vtt.example"}, None, None, id="plain"),
            pytest.param(
                {"host": "vtt.example", "tlsSecretName": "cert", "className": "nginx"},
                [{"hosts": ["vtt.example"], "secretName": "cert"}],
                "nginx",
                id="tls",
            ),
        ],
    )
    def test_ingress(
        self, ingress: dict[str, Any], tls: list[Any] | None, class_name: str | None
    ) -> None:
        manifest = children(make({"ingress": ingress}))[("Ingress", "skirmish")]
        assert manifest["spec"].get("tls") == tls
        assert manifest["spec"].get("ingressClassName") == class_name
        rule = manifest["spec"]["rules"][0]
        assert rule["host"] == "vtt.example"
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": "skirmish", "port": {"name": "http"}}
        annotations = manifest["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"

    @pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
    def test_redis_aof_config(self, fsync: str) -> None:
        cm = children(make({"redis": {"enabled": True, "appendfsync": fsync}}))[
            ("ConfigMap", "skirmish-redis-config")
        ]
        lines = cm["data"]["redis.conf"].splitlines()
        assert "appendonly yes" in lines
        assert f"appendfsync {fsync}" in lines

    def test_redis_statefulset_and_headless_service(self) -> None:
        spec = {"redis": {"enabled": True, "storageSize": "5Gi", "storageClassName": "fast",
                          "pvcRetention": "Delete", "image": "redis:7.4"}}  # fmt: skip
        kids = children(make(spec))
        sts = kids[("StatefulSet", "skirmish-redis")]
        assert sts["spec"]["serviceName"] == "skirmish-redis"
        assert sts["spec"]["replicas"] == 1
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
        assert claim["spec"]["storageClassName"] == "fast"
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
        pod = sts["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == "redis:7.4"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert kids[("Service", "skirmish-redis")]["spec"]["clusterIP"] == "None"


def _cond(kind: ConditionType, status: str, since: str = "t0") -> Condition:
    return Condition(
        type=kind,
        status=ConditionStatus(status),
        reason="Old",
        last_transition_time=since,
        observed_generation=1,
    )


class TestConditions:
    READY = Observation(
        deployment_exists=True,
        deployment_current=True,
        desired_replicas=2,
        replicas=2,
        updated_replicas=2,
        ready_replicas=2,
        redis_enabled=True,
        redis_ready=True,
    )

    def by_type(self, conditions: list[Condition]) -> dict[str, tuple[str, str]]:
        return {c.type.value: (c.status.value, c.reason) for c in conditions}

    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            pytest.param({}, {"Ready": ("True", "AllReplicasReady"),
                              "Progressing": ("False", "RolloutComplete"),
                              "Degraded": ("False", "AsExpected"),
                              "RedisReady": ("True", "StatefulSetReady"),
                              "TemplateOverridden": ("False", "TemplateApplied"),
                              "Paused": ("False", "Reconciling")}, id="ready"),
            pytest.param({"ready_replicas": 1}, {"Ready": ("False", "ReplicasNotReady"),
                                                 "Progressing": ("True", "RollingOut")},
                         id="rolling"),
            pytest.param({"redis_ready": False}, {"Ready": ("False", "RedisNotReady"),
                                                  "RedisReady": ("False", "StatefulSetNotReady")},
                         id="redis-down"),
            pytest.param({"redis_enabled": False, "redis_ready": False},
                         {"Ready": ("True", "AllReplicasReady"),
                          "RedisReady": ("True", "Disabled")},
                         id="no-redis"),
            pytest.param({"error": "forbidden"}, {"Ready": ("False", "ReconcileError"),
                                                  "Degraded": ("True", "ReconcileError")},
                         id="error"),
            pytest.param({"progress_deadline_exceeded": True, "ready_replicas": 1},
                         {"Degraded": ("True", "ProgressDeadlineExceeded")}, id="stalled"),
            pytest.param({"template_overridden": True},
                         {"TemplateOverridden": ("True", "ManualRollback")}, id="rollback"),
            pytest.param({"deployment_current": False}, {"Ready": ("False", "ReplicasNotReady")},
                         id="stale-deployment-status"),
            pytest.param({"deployment_exists": False}, {"Progressing": ("True", "Creating")},
                         id="creating"),
            pytest.param({"desired_replicas": 0, "replicas": 0, "updated_replicas": 0,
                          "ready_replicas": 0}, {"Ready": ("False", "NoReplicas"),
                                                 "Progressing": ("False", "RolloutComplete")},
                         id="zero-replicas-serve-nobody"),
            pytest.param({"paused": True}, {"Paused": ("True", "SpecPaused"),
                                            "Ready": ("True", "AllReplicasReady")}, id="paused"),
            pytest.param({}, {"Paused": ("False", "Reconciling")}, id="not-paused"),
            pytest.param({"hpa_no_metrics": "FailedGetResourceMetric: no metrics"},
                         {"Ready": ("False", "AutoscalerMetricsUnavailable")},
                         id="hpa-without-metrics"),
            pytest.param({"ingress_enabled": True}, {"IngressReady": ("True", "IngressApplied")},
                         id="ingress"),
            pytest.param({"ingress_enabled": True, "tls_secret_missing": "vtt-tls"},
                         {"IngressReady": ("False", "TLSSecretMissing"),
                          "Ready": ("True", "AllReplicasReady")}, id="tls-secret-missing"),
        ],
    )  # fmt: skip
    def test_condition_table(
        self, changes: dict[str, Any], expected: dict[str, tuple[str, str]]
    ) -> None:
        fields = {k: getattr(self.READY, k) for k in self.READY.__slots__}
        observation = Observation(**{**fields, **changes})
        conditions = build_conditions([], observation, generation=3, now="t1")
        got = self.by_type(conditions)
        assert {k: got[k] for k in expected} == expected
        ready = next(c for c in conditions if c.type == ConditionType.READY)
        if observation.hpa_no_metrics:
            assert "the HPA cannot get metrics" in ready.message
            assert "FailedGetResourceMetric: no metrics" in ready.message

    def test_last_transition_time_changes_only_on_a_flip(self) -> None:
        previous = [_cond(ConditionType.READY, "True"), _cond(ConditionType.DEGRADED, "True")]
        out = {c.type: c for c in build_conditions(previous, self.READY, generation=2, now="t9")}
        assert out[ConditionType.READY].last_transition_time == "t0"  # still True
        assert out[ConditionType.DEGRADED].last_transition_time == "t9"  # True → False
        assert out[ConditionType.PROGRESSING].last_transition_time == "t9"  # new
        assert all(c.observed_generation == 2 for c in out.values())

    def test_unchanged_world_gives_an_identical_status(self) -> None:
        tvtt = make(REDIS)
        first = build_status(tvtt, {}, template_overridden=False, error=None, now="t1")
        again = tvtt.model_copy(update={"status": first})
        second = build_status(again, {}, template_overridden=False, error=None, now="t2")
        assert second == first

    def test_status_reports_image_endpoint_and_selector(self) -> None:
        tvtt = make({"image": "img:1"})
        deployment = children(tvtt)[("Deployment", "skirmish")]
        deployment = {**deployment, "status": {"replicas": 1, "readyReplicas": 1}}
        status = build_status(
            tvtt,
            {("Deployment", "skirmish"): deployment},
            template_overridden=False,
            error=None,
            now="t",
        )
        assert status.image == "img:1"
        assert status.ready_replicas == 1
        assert status.endpoint == "http://skirmish.games.svc:80"
        assert status.selector == (
            "app.kubernetes.io/name=traveller-vtt,app.kubernetes.io/instance=skirmish,"
            "app.kubernetes.io/component=gameserver"
        )

    @pytest.mark.parametrize(
        ("ingress", "endpoint"),
        [
            pytest.param({"host": "vtt.example"}, "http://vtt.example", id="http"),
            pytest.param(
                {"host": "vtt.example", "tlsSecretName": "c"}, "https://vtt.example", id="tls"
            ),
        ],
    )
    def test_endpoint_prefers_the_ingress(self, ingress: dict[str, Any], endpoint: str) -> None:
        status = build_status(
            make({"ingress": ingress}), {}, template_overridden=False, error=None, now="t"
        )
        assert status.endpoint == endpoint


class TestProbesAndImages:
    def test_every_probe_has_an_explicit_timeout(self) -> None:
        probes = 0
        for manifest in build_children(make(REDIS)):
            pod = (manifest.get("spec") or {}).get("template", {}).get("spec")
            for c in (pod or {}).get("containers", []):
                for name in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if name in c:
                        probes += 1
                        assert c[name]["timeoutSeconds"] >= 2, (c["name"], name)
        assert probes == 5

    def test_an_image_pinned_by_digest_is_deployed_and_shown_as_is(self) -> None:
        digest = "ghcr.io/traveller-vtt/gameserver@sha256:" + "ab" * 32
        tvtt = make({"image": digest})
        deployment = children(tvtt)[("Deployment", "skirmish")]
        assert container(deployment)["image"] == digest
        status = build_status(
            tvtt, {("Deployment", "skirmish"): deployment}, template_overridden=False,
            error=None, now="t",
        )  # fmt: skip
        assert status.image == digest

    def test_the_default_redis_image_is_pinned_to_a_release(self) -> None:
        image = make(REDIS).spec.redis.image
        repository, _, tag = image.partition(":")
        assert repository == "redis"
        assert len(tag.split(".")) == 3, f"{image} is a moving tag"


class TestTransitionEvents:
    def status(self, **changes: Any) -> TravellerVTTStatus:
        fields = {k: getattr(TestConditions.READY, k) for k in TestConditions.READY.__slots__}
        observation = Observation(**{**fields, **changes})
        conditions = build_conditions([], observation, generation=1, now="t")
        return TravellerVTTStatus(
            observed_generation=1, conditions=conditions,
            desired_replicas=observation.desired_replicas,
        )  # fmt: skip

    def reasons(self, before: TravellerVTTStatus, after: TravellerVTTStatus) -> list[str]:
        return [reason for _, reason, _ in transitions(before, after)]

    def test_nothing_changed_means_no_event(self) -> None:
        assert transitions(self.status(), self.status()) == []

    def test_first_status_a_rollout_a_recovery_and_a_scale(self) -> None:
        ready = self.status()
        assert self.reasons(TravellerVTTStatus(), ready)[0] == "Created"
        rolling = self.status(updated_replicas=1, ready_replicas=1)
        assert self.reasons(ready, rolling) == ["RollingOut"]
        assert self.reasons(rolling, ready) == ["RolledOut", "Ready"]
        stalled = self.status(progress_deadline_exceeded=True, ready_replicas=1)
        assert "RolloutStalled" in self.reasons(rolling, stalled)
        assert "Recovered" in self.reasons(stalled, ready)
        scaled = self.status(desired_replicas=3, replicas=3, updated_replicas=3, ready_replicas=3)
        assert self.reasons(ready, scaled) == ["Scaled"]
        (event,) = transitions(ready, scaled)
        assert event == ("Normal", "Scaled", "2 → 3 replicas")
