"""Operator benchmark on its own loopback control plane (tests/cluster), one run:

- apply → all children created: p50/p99 over 50 TravellerVTTs created one at a time (each timed
  from the create request to the last of its five children appearing on a watch), then a burst
  of the rest (to 200) created back to back (makespan, resources/s, operator CPU);
- API writes per idle minute with 200 resources, counted by the API server itself
  (`apiserver_request_total`, successful applies/patches/creates/deletes of the TravellerVTTs,
  their status included, and of the children outside their /status, which controllers own),
  cross-checked with resourceVersion changes and the operator's own write counter. The operator
  resyncs every 15 s here (300 s by default), so the window covers several full resyncs;
- operator RSS (now and peak) and CPU;
- baseline: the latency of a plain API write (creating a ConfigMap) over the same kind of
  keep-alive connection, p50/p99, to divide by.

The operator runs as in the e2e suite: `python -m tvtt_operator --namespace bench` under a
ServiceAccount with exactly the chart's Role. Knobs: BENCH_OPERATOR_RESOURCES (200),
BENCH_OPERATOR_SAMPLES (50), BENCH_OPERATOR_IDLE_SECONDS (60; the rate is scaled to a minute),
BENCH_OPERATOR_RESYNC_SECONDS (15).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from tvtt_operator.builders import FIELD_MANAGER, LABEL_MANAGED_BY
from tvtt_operator.kinds import (
    CHILD_KINDS,
    CONFIG_MAP,
    DEPLOYMENT,
    NETWORK_POLICY,
    PDB,
    SERVICE,
    TRAVELLER_VTT,
)
from tvtt_operator.models import API_VERSION, KIND

from bench.loadgen import percentile
from tests.cluster.controlplane import ControlPlane
from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.operator_process import (
    OPERATOR_WRITTEN,
    OperatorProcess,
    apiserver_writes,
    install_crd,
    metric_sum,
    operator_kubeconfig,
)

NAMESPACE = "bench"
IMAGE = "ghcr.io/traveller-vtt/gameserver:0.1.0"
# The children a minimal resource gets (their collections are watched for first appearance).
WATCHED = (CONFIG_MAP, SERVICE, DEPLOYMENT, PDB, NETWORK_POLICY)
KINDS = ",".join(kind.resource for kind in (TRAVELLER_VTT, *CHILD_KINDS))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Api:
    """A keep-alive HTTPS connection as the admin user: what a client library would hold."""

    def __init__(self, cp: ControlPlane) -> None:
        self.context = ssl.create_default_context(cafile=str(cp.pki / "ca.crt"))
        self.context.load_cert_chain(str(cp.pki / "admin.crt"), str(cp.pki / "admin.key"))
        self.server = cp.server
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", cp.ports["apiserver"], context=self.context, timeout=30
        )

    def post(self, path: str, body: dict[str, Any]) -> float:
        """POST and return the round-trip seconds; raise on anything but 201."""
        data = json.dumps(body)
        started = time.perf_counter()
        self.conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        payload = resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 201:
            raise RuntimeError(f"POST {path}: {resp.status} {payload[:500]!r}")
        return elapsed

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> dict[str, Any]:
        """Any other request; raise on a non-2xx answer, return the JSON body."""
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=data, headers={"Content-Type": content_type})
        resp = self.conn.getresponse()
        payload = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {payload[:500]!r}")
        result: dict[str, Any] = json.loads(payload)
        return result

    def close(self) -> None:
        self.conn.close()


class ChildWatch:
    """Watches the operator's children and records when each first appeared (monotonic time)."""

    def __init__(self, api: Api, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.seen: dict[tuple[str, str], float] = {}
        self.changed = threading.Condition()
        self._connected = threading.Semaphore(0)

    def start(self) -> None:
        for kind in WATCHED:
            url = (
                f"{self.api.server}{kind.path(self.namespace)}?watch=1"
                f"&labelSelector={LABEL_MANAGED_BY}%3D{FIELD_MANAGER}"
            )
            threading.Thread(target=self._run, args=(kind.kind, url), daemon=True).start()
        for _ in WATCHED:
            if not self._connected.acquire(timeout=30):
                raise RuntimeError("watch did not connect")

    def _run(self, kind: str, url: str) -> None:
        try:
            with urllib.request.urlopen(url, context=self.api.context) as resp:
                self._connected.release()
                for line in resp:
                    event = json.loads(line)
                    if event.get("type") != "ADDED":
                        continue
                    now = time.perf_counter()
                    name = event["object"]["metadata"]["name"]
                    with self.changed:
                        self.seen.setdefault((kind, name), now)
                        self.changed.notify_all()
        except (OSError, http.client.HTTPException, ValueError):
            return  # the control plane stopped at the end of the run

    def first(self, keys: list[tuple[str, str]]) -> float:
        """The earliest appearance among `keys` (all must have been seen)."""
        with self.changed:
            return min(self.seen[k] for k in keys)

    def wait_all(self, keys: list[tuple[str, str]], timeout: float = 120.0) -> float:
        """Block until every key was seen; return the latest appearance time."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(k in self.seen for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = [k for k in keys if k not in self.seen]
                    raise TimeoutError(f"children never appeared: {missing[:5]}")
                self.changed.wait(left)
            return max(self.seen[k] for k in keys)


def children_of(name: str) -> list[tuple[str, str]]:
    return [
        ("ConfigMap", f"{name}-config"),
        ("Service", name),
        ("Deployment", name),
        ("PodDisruptionBudget", name),
        ("NetworkPolicy", name),
    ]


def tvtt(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        # In memory (five children with the NetworkPolicy): the shape of the recorded figures.
        "spec": {"image": IMAGE, "redis": {"enabled": False}},
    }


def configmap(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"LOG_LEVEL": "info", "MAX_CONNECTIONS": "1000", "ALLOWED_ORIGINS": ""},
    }


def versions(kubectl: Kubectl) -> dict[tuple[str, str], str]:
    items = kubectl.get(KINDS, None)["items"]
    return {(o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in items}


def all_ready(kubectl: Kubectl, count: int) -> bool:
    items = kubectl.get("travellervtts", None)["items"]
    ready = [
        o
        for o in items
        if (o.get("status") or {}).get("observedGeneration") == o["metadata"]["generation"]
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (o.get("status") or {}).get("conditions") or []
        )
    ]
    return len(ready) >= count


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def drift_latency(api: Api, samples: int) -> None:
    """Someone edits an owned field (a ConfigMap key, as `kubectl patch` would): time until the
    operator has put it back, seen by polling the object."""
    took = []
    api.conn.close()  # the API server dropped the keep-alive connection during the idle window
    for i in range(min(samples, 20)):
        path = CONFIG_MAP.path(NAMESPACE, f"lat-{i:03d}-config")
        edit = {"data": {"LOG_LEVEL": "debug"}}
        started = time.perf_counter()
        patch = f"{path}?fieldManager=bench-drift"
        api.request("PATCH", patch, edit, content_type="application/merge-patch+json")
        while api.request("GET", path)["data"]["LOG_LEVEL"] != "info":
            if time.perf_counter() - started > 60:
                raise TimeoutError(f"drift of lat-{i:03d}-config never corrected")
            time.sleep(0.005)
        took.append(time.perf_counter() - started)
    print(
        f"drift (a ConfigMap key edited by another manager) → corrected, {len(took)} samples: "
        f"p50 {_ms(percentile(took, 0.5))}, p99 {_ms(percentile(took, 0.99))}"
    )


def run() -> None:
    """Print absolute figures and their ratios to the same-run baseline."""
    total = _env_int("BENCH_OPERATOR_RESOURCES", 200)
    samples = min(total, _env_int("BENCH_OPERATOR_SAMPLES", 50))
    idle = _env_int("BENCH_OPERATOR_IDLE_SECONDS", 60)
    resync = _env_int("BENCH_OPERATOR_RESYNC_SECONDS", 15)
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp, ControlPlane() as cp:
        print(
            f"control plane Ready in {cp.startup_seconds:.1f} s; {os.cpu_count()} cores, load "
            f"average {os.getloadavg()[0]:.1f} (other work on the machine skews every figure)",
            flush=True,
        )
        admin = Kubectl(cp.bin / "kubectl", cp.kubeconfig)
        install_crd(admin)
        admin("create", "namespace", NAMESPACE)
        kubectl = admin.in_namespace(NAMESPACE)
        wait_for(lambda: kubectl.exists("serviceaccount", "default"), timeout=30)
        api = Api(cp)

        # Baseline: a plain write of about the size of one child, same connection type.
        for i in range(5):  # warm-up: connection, TLS, the apiserver's caches
            api.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps", configmap(f"warm-{i}"))
        base = [
            api.post(f"/api/v1/namespaces/{NAMESPACE}/configmaps", configmap(f"base-{i}"))
            for i in range(samples)
        ]
        base_p50, base_p99 = percentile(base, 0.5), percentile(base, 0.99)
        print(f"baseline: create a ConfigMap: p50 {_ms(base_p50)}, p99 {_ms(base_p99)}")

        sa_config = operator_kubeconfig(admin, NAMESPACE, Path(tmp) / "operator.kubeconfig")
        operator = OperatorProcess(
            sa_config, NAMESPACE, Path(tmp) / "operator.log", resync_seconds=resync
        )
        watch = ChildWatch(api, NAMESPACE)
        watch.start()
        try:
            operator.start()
            rss_start = operator.rss_bytes()
            tvtts = TRAVELLER_VTT.path(NAMESPACE)

            # Warm-up: the operator's watches are up and its first reconcile is behind it.
            api.post(tvtts, tvtt("warm-up"))
            watch.wait_all(children_of("warm-up"))

            # Latency: one resource at a time, apply → its last child on the watch.
            latencies = []
            firsts = []
            create_rtt = []
            for i in range(samples):
                name = f"lat-{i:03d}"
                sent = time.perf_counter()
                create_rtt.append(api.post(tvtts, tvtt(name)))
                latencies.append(watch.wait_all(children_of(name)) - sent)
                firsts.append(watch.first(children_of(name)) - sent)
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            own = operator.metrics()
            reconcile_ms = (
                1000
                * metric_sum(own, "tvtt_operator_reconcile_duration_seconds_sum")
                / max(1.0, metric_sum(own, "tvtt_operator_reconcile_duration_seconds_count"))
            )
            print(
                f"apply → all {len(WATCHED)} children, {samples} resources one at a time: "
                f"p50 {_ms(p50)}, p99 {_ms(p99)} "
                f"(the create itself: p50 {_ms(percentile(create_rtt, 0.5))}; first child: p50 "
                f"{_ms(percentile(firsts, 0.5))}; "
                f"mean reconcile {reconcile_ms:.1f} ms)"
            )
            print(f"  ratio to the baseline write: p50 {p50 / base_p50:.1f}x, p99 "
                  f"{p99 / base_p99:.1f}x")  # fmt: skip

            # Burst: the rest created back to back.
            burst = [f"burst-{i:03d}" for i in range(total - samples - 1)]
            assert operator.popen is not None
            pid = operator.popen.pid
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            for name in burst:
                api.post(tvtts, tvtt(name))
            done = watch.wait_all([k for n in burst for k in children_of(n)], timeout=300)
            if burst:
                makespan = done - started
                cpu = cpu_seconds(pid) - cpu_before
                print(
                    f"burst of {len(burst)} creates: all children after {makespan:.1f} s "
                    f"({len(burst) / makespan:.0f} resources/s; operator CPU {cpu:.1f} s = "
                    f"{100 * cpu / makespan:.0f}% of one core)"
                )

            # Idle: every resource Ready, then count writes over the window.
            wait_for(lambda: all_ready(kubectl, total), timeout=300, interval=1.0,
                     message=f"{total} TravellerVTTs Ready")  # fmt: skip
            operator.wait_reconciles(operator.reconciles() + 2 * total, timeout=120)
            rv_before = versions(kubectl)
            server_before = apiserver_writes(admin, OPERATOR_WRITTEN)
            own_before = operator.writes()
            reconciles_before = operator.reconciles()
            idle_cpu_before = cpu_seconds(pid)
            time.sleep(idle)  # the measurement window itself
            server_after = apiserver_writes(admin, OPERATOR_WRITTEN)
            rv_after = versions(kubectl)
            reconciles = operator.reconciles() - reconciles_before
            idle_cpu = cpu_seconds(pid) - idle_cpu_before
            ours = {
                k: server_after[k] - server_before.get(k, 0.0)
                for k in server_after
                if (k[3] != "status" or k[2] == "travellervtts")
                and server_after[k] != server_before.get(k, 0.0)
            }
            controllers = {
                k: server_after[k] - server_before.get(k, 0.0)
                for k in server_after
                if k[3] == "status" and k[2] != "travellervtts"
                and server_after[k] != server_before.get(k, 0.0)
            }  # fmt: skip
            scale = 60.0 / idle
            changed_rv = sum(1 for k, v in rv_after.items() if rv_before.get(k) != v)
            print(
                f"idle, {total} resources ({len(rv_before)} objects), {idle} s window, resync "
                f"every {resync} s ({reconciles:.0f} reconciles ran, operator CPU "
                f"{100 * idle_cpu / idle:.1f}% of one core):"
            )
            print(
                f"  API writes per idle minute (API server's count): "
                f"{sum(ours.values()) * scale:.0f} {ours or ''}"
            )
            print(f"  operator's own write counter: {(operator.writes() - own_before) * scale:.0f}"
                  f"/min; objects whose resourceVersion changed: {changed_rv}")  # fmt: skip
            print(
                f"  (for scale: controllers' /status writes to the same kinds: "
                f"{sum(controllers.values()) * scale:.0f}/min)"
            )
            drift_latency(api, samples)
            rss = operator.rss_bytes()
            print(
                f"operator RSS: {rss / 2**20:.0f} MiB with {total} resources "
                f"(peak {peak_rss(pid) / 2**20:.0f} MiB, "
                f"{rss_start / 2**20:.0f} MiB at start); load average {os.getloadavg()[0]:.1f}"
            )
        finally:
            operator.stop()
            api.close()
