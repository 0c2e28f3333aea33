"""The real operator as a child process, with exactly its RBAC, plus metric readers.

Shared by the operator e2e suite (`tests/e2e/test_operator*.py`) and the operator benchmark
(`bench/bench_operator.py`): both run `python -m tvtt_operator --namespace NS` against a real API
server under a ServiceAccount bound to `tvtt_operator.rbac.operator_rules()` (what the chart
grants), so a missing permission shows up as a Forbidden in its log instead of in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from prometheus_client.parser import text_string_to_metric_families
from tvtt_operator.crdgen import CRD_NAME, FILE_NAME
from tvtt_operator.kinds import CHILD_KINDS, TRAVELLER_VTT
from tvtt_operator.rbac import leader_election_rules, operator_rules

from testkit.ports import free_ports
from testkit.processes import stop_process
from tests.cluster.controlplane import _die_with_parent
from tests.cluster.kube import Kubectl, wait_for

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / FILE_NAME
OPERATOR_ACCOUNT = "tvtt-operator"
# Verbs that change something; LIST/GET/WATCH are reads.
# Resources only the operator writes (outside their /status, which controllers own), by API group:
# what the API server's write counters are summed over (e2e steady state and the benchmark).
OPERATOR_WRITTEN: dict[str, list[str]] = {}
for _kind in (*CHILD_KINDS, TRAVELLER_VTT):
    OPERATOR_WRITTEN.setdefault(_kind.group, []).append(_kind.plural)
WRITE_VERBS = frozenset({"APPLY", "PATCH", "POST", "PUT", "DELETE", "DELETECOLLECTION"})


def install_crd(kubectl: Kubectl, timeout: float = 60.0) -> None:
    """Apply the generated CRD (crds/, from `make crds`) and wait until clients can use it.

    Waits for discovery too, not just `Established`: the operator discovers its resource once at
    startup (kopf's scanning is disabled), so it must already be listed there.
    """
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", f"--timeout={timeout:.0f}s")
    group = CRD_NAME.split(".", 1)[1]
    wait_for(
        lambda: "travellervtts" in kubectl("api-resources", "--api-group", group, "-o", "name"),
        timeout=timeout,
        message=f"{CRD_NAME} in API discovery",
    )


def operator_kubeconfig(kubectl: Kubectl, namespace: str, path: Path) -> Path:
    """A kubeconfig whose only credential is a token of a ServiceAccount with the operator's Role.

    The Role holds exactly `operator_rules()` (the chart renders the same list) and, as the
    chart's leader election Role does in the release namespace, `leader_election_rules()`.
    """
    meta = {"name": OPERATOR_ACCOUNT, "namespace": namespace}
    kubectl.in_namespace(namespace).apply(
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta,
                "rules": [*operator_rules(), *leader_election_rules()],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta,
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": OPERATOR_ACCOUNT,
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": OPERATOR_ACCOUNT, "namespace": namespace}
                ],
            },
        ]
    )
    token = kubectl.in_namespace(namespace)(
        "create", "token", OPERATOR_ACCOUNT, "--duration=7200s"
    ).strip()
    admin = kubectl.json("config", "view", "--raw", "--minify")
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": admin["clusters"][0]["cluster"]}],
                "users": [{"name": OPERATOR_ACCOUNT, "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": OPERATOR_ACCOUNT}}],
                "current-context": "c",
            }
        )
    )
    path.chmod(0o600)
    return path


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format → (sample name, labels, value) triples."""
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def metric_sum(
    samples: Iterable[tuple[str, dict[str, str], float]], name: str, **labels: str
) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


def apiserver_writes(
    kubectl: Kubectl,
    resources: Mapping[str, Iterable[str]],
    verbs: Iterable[str] = WRITE_VERBS,
) -> dict[tuple[str, str, str, str], float]:
    """Successful writes the API server itself counted (`apiserver_request_total`, 2xx), by
    (verb, group, resource, subresource), restricted to `resources` ({group: [resource, ...]}).

    Measured where the requests land, so it counts what any client sent, not what the
    operator believes it sent. Refused requests are left out: e.g. the root-CA publisher keeps
    trying to recreate `kube-root-ca.crt` in namespaces being deleted (403), which changes
    nothing; the operator's own counter (`OperatorProcess.writes`) includes its failed attempts.
    """
    wanted = {(group, res) for group, names in resources.items() for res in names}
    verb_set = set(verbs)
    counts: dict[tuple[str, str, str, str], float] = {}
    for name, labels, value in parse_metrics(kubectl("get", "--raw", "/metrics")):
        if name != "apiserver_request_total" or labels.get("verb") not in verb_set:
            continue
        if not labels.get("code", "").startswith("2"):
            continue
        group, resource = labels.get("group", ""), labels.get("resource", "")
        if (group, resource) not in wanted:
            continue
        key = (labels["verb"], group, resource, labels.get("subresource", ""))
        counts[key] = counts.get(key, 0.0) + value
    return counts


class OperatorProcess:
    """`python -m tvtt_operator --namespace NS` with its log in a file; `stop()` always ends it.

    Started in its own process group (and killed by the kernel if the test process dies), on a
    free loopback port for /healthz and /metrics.
    """

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        log_path: Path,
        *,
        resync_seconds: float = 300.0,
        workers: int = 4,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.resync_seconds = resync_seconds
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.port = 0
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.excused: list[tuple[int, int]] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> OperatorProcess:
        """Start and wait for /healthz (the workers run; kopf's watches start right after)."""
        if self.popen is not None and self.popen.poll() is None:
            raise RuntimeError("operator already running")
        (self.port,) = free_ports(1)
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "TVTT_OPERATOR_HTTP_HOST": "127.0.0.1",
            "TVTT_OPERATOR_HTTP_PORT": str(self.port),
            "TVTT_OPERATOR_RESYNC_SECONDS": str(self.resync_seconds),
            "TVTT_OPERATOR_WORKERS": str(self.workers),
            "TVTT_OPERATOR_MAX_BACKOFF_SECONDS": "5",
            # kwok's pods have made-up addresses in a private range: never dial them.
            "TVTT_OPERATOR_POLL_SECONDS": "0",
            **self.extra_env,
        }
        self._log = self.log_path.open("ab")
        self._log.write(f"--- operator start (port {self.port}) ---\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tvtt_operator", "--namespace", self.namespace],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        wait_for(self._healthy, timeout=timeout, message=f"operator /healthz\n{self.output()}")
        return self

    def _healthy(self) -> bool:
        if self.popen is None or self.popen.poll() is not None:
            raise RuntimeError(f"operator exited:\n{self.output()}")
        return self.http_status("/healthz") == 200

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> int | None:
        """Signal the process group, wait up to `grace`, then SIGKILL; returns the exit code."""
        if self.popen is None:
            return None
        code = stop_process(self.popen, grace, sig=sig, group=True)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, whatever it was doing is cut off."""
        self.stop(signal.SIGKILL)

    # -- observation ------------------------------------------------------------------------------
    def output(self, lines: int = 60) -> str:
        """The end of the operator's log (for failure messages)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no operator log)"
        return "\n".join(text[-lines:])

    def log_offset(self) -> int:
        """Current size of the log, to mark where an expected outage starts or ends."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def excuse(self, start: int, end: int) -> None:
        """Exclude log bytes [start, end) from `checked_log()` (e.g. an API server restart,
        during which its authorizer answers Forbidden until its caches are filled)."""
        self.excused.append((start, end))

    def checked_log(self) -> str:
        """The whole log minus excused ranges: what the suite scans for errors."""
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        kept, pos = [], 0
        for start, end in sorted(self.excused):
            kept.append(data[pos:start])
            pos = max(pos, end)
        kept.append(data[pos:])
        return b"".join(kept).decode(errors="replace")

    def http_status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except OSError:
            return 0

    def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        """The operator's own /metrics, parsed."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return parse_metrics(resp.read().decode())

    def reconciles(self) -> float:
        """Reconciles finished so far (any result)."""
        return metric_sum(self.metrics(), "tvtt_operator_reconciles_total")

    def writes(self) -> float:
        """API writes the operator sent (its own count; see `apiserver_writes` for the server's)."""
        return metric_sum(self.metrics(), "tvtt_operator_api_writes_total")

    def wait_reconciles(self, count: float, timeout: float = 60.0) -> None:
        """Wait until at least `count` reconciles have finished (e.g. a few resync rounds)."""
        wait_for(
            lambda: self.reconciles() >= count,
            timeout=timeout,
            message=f"{count:.0f} reconciles\n{self.output()}",
        )

    def rss_bytes(self) -> int:
        """Resident memory of the operator process (Linux /proc)."""
        if self.popen is None:
            return 0
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


def json_objects(kubectl: Kubectl, kinds: str, *selector: str) -> list[dict[str, Any]]:
    """`kubectl get KINDS -o json` items (empty list when none)."""
    items: list[dict[str, Any]] = kubectl.get(kinds, None, *selector)["items"]
    return items
