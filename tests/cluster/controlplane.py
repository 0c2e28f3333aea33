"""Start and stop a real Kubernetes control plane on 127.0.0.1 for tests and for people.

Components (built by ``tests/cluster/build.sh`` into ``~/.cache/traveller-vtt/<key>/bin``):
etcd, kube-apiserver (RBAC on), kube-controller-manager (with the hostpath test provisioner),
kube-scheduler and kwok (a fake kubelet that makes Nodes Ready and Pods Running without running
containers). Every port is chosen free at start so two runs can coexist; each component runs in its
own process group and is stopped on ``stop()``, at interpreter exit and on SIGTERM/SIGHUP, and
(when ``die_with_parent``) by the kernel if this process is killed outright.

CLI: ``python -m tests.cluster.controlplane up|down|status [--run-dir DIR]``.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from testkit.ports import free_ports

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.env"
BUILD_SCRIPT = HERE / "build.sh"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
BINARIES = (*COMPONENTS, "kubectl", "helm")
SERVICE_CIDR = "10.96.0.0/16"  # virtual; only ever written into objects, never dialled
LOOPBACK = "127.0.0.1"
PR_SET_PDEATHSIG = 1
START_ATTEMPTS = 3


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (message carries the failing log's tail)."""


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Parse the KEY=VALUE pins shared with build.sh (one source of truth for versions)."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            pins[key.strip()] = value.strip()
    return pins


def cache_root() -> Path:
    """Where binaries and people's run dirs live: outside the repo, survives `make clean`."""
    if env := os.environ.get("TVTT_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "traveller-vtt"


def versions_key(pins: dict[str, str] | None = None) -> str:
    """Cache folder name; must match build.sh so both find the same binaries."""
    p = pins or read_versions()
    return (
        f"k8s-{p['KUBERNETES_VERSION']}_etcd-{p['ETCD_VERSION']}"
        f"_kwok-{p['KWOK_VERSION']}_helm-{p['HELM_VERSION']}"
    )


def bin_dir() -> Path:
    """Folder holding the pinned binaries (may not exist yet: run build.sh)."""
    return cache_root() / versions_key() / "bin"


def kwok_stages_file() -> Path:
    """kwok Stage objects copied from the kwok module by build.sh."""
    return cache_root() / versions_key() / "share" / "kwok-stages.yaml"


def missing_binaries(directory: Path | None = None) -> list[str]:
    """Names of pinned binaries not yet built (empty when the cache is complete)."""
    d = directory or bin_dir()
    missing = [b for b in BINARIES if not os.access(d / b, os.X_OK)]
    if not kwok_stages_file().is_file():
        missing.append("kwok-stages.yaml")
    return missing


def _die_with_parent() -> None:
    """preexec hook: the kernel SIGKILLs the child if the starting thread dies.

    SIGKILL, not SIGTERM: an orphaned kube-apiserver's graceful shutdown can outlive etcd and
    hang on a loaded machine; nobody is left to wait for it anyway.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


# cobra "Error: ...", klog E/F lines, etcd/kwok JSON logs at error level.
_ERROR_LINE = re.compile(r'^(Error|error|[EF]\d{4} )|"level":"(error|fatal|ERROR)"')


def _excerpt(path: Path, lines: int = 30) -> str:
    """First error-looking lines (e.g. an unknown flag above a long usage text) plus the tail."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [ln for ln in text if _ERROR_LINE.search(ln)]
    head = ["first error lines:", *errors[:5], "last lines:"] if errors else []
    return "\n".join([*head, *text[-lines:]])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_bytes(pids: list[int]) -> int:
    """Sum of resident memory of the given processes (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


# ----------------------------------------------------------------------------------------------
# PKI


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def generate_pki(pki: Path) -> None:
    """CA, apiserver serving cert, client certs and the service-account key pair (ECDSA P-256).

    Client identities: ``admin`` (system:masters, also used by kwok, which updates every Node),
    and the controller manager and scheduler users that the RBAC bootstrap policy knows.
    """
    if shutil.which("openssl") is None:
        raise ControlPlaneError("openssl not found on PATH (apt-get install openssl)")
    pki.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", "/CN=tvtt-e2e-ca", cwd=pki)  # fmt: skip
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", "sa.key", cwd=pki)  # fmt: skip
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    sans = ",".join(
        [
            f"IP:{LOOPBACK}",
            "IP:10.96.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    leaves = {
        "apiserver": ("/CN=kube-apiserver", f"subjectAltName={sans}\nextendedKeyUsage=serverAuth"),
        "admin": ("/O=system:masters/CN=tvtt-admin", "extendedKeyUsage=clientAuth"),
        "controller-manager": ("/CN=system:kube-controller-manager", "extendedKeyUsage=clientAuth"),
        "scheduler": ("/CN=system:kube-scheduler", "extendedKeyUsage=clientAuth"),
    }
    for name, (subject, ext) in leaves.items():
        (pki / f"{name}.ext").write_text(
            f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n{ext}\n"
        )
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", subject, cwd=pki)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "365", "-out", f"{name}.crt",
                 "-extfile", f"{name}.ext", cwd=pki)  # fmt: skip


def write_kubeconfig(path: Path, server: str, pki: Path, user: str) -> None:
    """A self-contained kubeconfig (certs embedded) so it can be copied or exported as is."""

    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "tvtt-e2e",
                "cluster": {"server": server, "certificate-authority-data": b64("ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(f"{user}.crt"),
                    "client-key-data": b64(f"{user}.key"),
                },
            }
        ],
        "contexts": [{"name": "tvtt-e2e", "context": {"cluster": "tvtt-e2e", "user": user}}],
        "current-context": "tvtt-e2e",
    }
    # JSON is valid YAML; kubeconfig readers accept it.
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)


# ----------------------------------------------------------------------------------------------
# Control plane


@dataclass
class _Proc:
    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None


class ControlPlane:
    """etcd + kube-apiserver + controller-manager + scheduler + kwok on loopback.

    Use as a context manager, or call ``start()`` and ``stop()``. ``kubeconfig`` is the admin
    (system:masters) kubeconfig. With ``run_dir=None`` a temporary directory is used and removed
    on stop; logs are kept there while running and quoted in ``ControlPlaneError`` on failure.
    """

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        binaries: Path | None = None,
        nodes: int = 2,
        node_pods: int = 1000,
        node_cpu: str = "128",
        node_memory: str = "512Gi",
        die_with_parent: bool = True,
        install_signal_handlers: bool = True,
        keep_run_dir: bool | None = None,
    ) -> None:
        self.bin = binaries or bin_dir()
        self._own_tmp = run_dir is None
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="tvtt-cp-"))
        self.nodes = nodes
        self.node_pods = node_pods
        self.node_cpu = node_cpu
        self.node_memory = node_memory
        self.die_with_parent = die_with_parent
        self.install_signal_handlers = install_signal_handlers
        if keep_run_dir is None:
            keep_run_dir = os.environ.get("TVTT_KEEP_RUN_DIR", "") not in ("", "0")
        self.keep_run_dir = keep_run_dir
        self.procs: list[_Proc] = []
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None
        self._lock = threading.RLock()
        self._stopped = False
        self._old_handlers: dict[int, Any] = {}

    # -- paths -----------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (cluster-admin via system:masters)."""
        return self.run_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://{LOOPBACK}:{self.ports['apiserver']}"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def pki(self) -> Path:
        return self.run_dir / "pki"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> ControlPlane:
        """Start everything and wait for /readyz, Ready nodes and the default ServiceAccount."""
        missing = missing_binaries(self.bin)
        if missing:
            raise ControlPlaneError(
                f"control-plane binaries missing in {self.bin}: {', '.join(missing)}. "
                f"Build them with `make cluster-bins` (or bash {BUILD_SCRIPT})."
            )
        t0 = time.monotonic()
        deadline = t0 + timeout
        self._register_cleanup()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start(deadline)
                break
            except ControlPlaneError:
                # A port picked as free can be taken (e.g. as an outgoing connection's source
                # port) before the component binds it: start again on new ports.
                if attempt < START_ATTEMPTS and self._port_clash():
                    _terminate(self.procs)
                    self.procs.clear()
                    shutil.rmtree(self.run_dir, ignore_errors=True)
                    continue
                self.stop(remove_run_dir=False)
                raise
            except BaseException:
                self.stop(remove_run_dir=False)
                raise
        self.startup_seconds = time.monotonic() - t0
        self._write_state()
        return self

    def _port_clash(self) -> bool:
        return any("address already in use" in _tail(p.log, 200) for p in self.procs)

    def _start(self, deadline: float) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        names = ["etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok"]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        generate_pki(self.pki)
        write_kubeconfig(self.kubeconfig, self.server, self.pki, "admin")
        for user in ("controller-manager", "scheduler"):
            write_kubeconfig(self.run_dir / f"{user}.kubeconfig", self.server, self.pki, user)

        self._spawn("etcd", self._etcd_args())
        etcd_url = f"http://{LOOPBACK}:{self.ports['etcd']}/health"
        self._wait("etcd /health", deadline, lambda: self._http_ok(etcd_url, tls=False))
        self._spawn("kube-apiserver", self._apiserver_args())
        self._wait("kube-apiserver /readyz", deadline, lambda: self._http_ok("/readyz"))
        self._spawn("kube-controller-manager", self._controller_manager_args())
        self._spawn("kube-scheduler", self._scheduler_args())
        self._spawn("kwok", self._kwok_args())
        self._create_nodes_and_storage()
        self._wait("Ready nodes", deadline, self._nodes_ready)
        self._wait(
            "the default ServiceAccount",
            deadline,
            lambda: self._http_ok("/api/v1/namespaces/default/serviceaccounts/default"),
        )

    def stop(self, remove_run_dir: bool | None = None) -> None:
        """Stop every process this object started (idempotent; safe from signal handlers)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            _terminate(self.procs)
            self._restore_signal_handlers()
            with contextlib.suppress(Exception):
                atexit.unregister(self._atexit_stop)
            remove = self._own_tmp and not self.keep_run_dir
            if remove_run_dir is not None:
                remove = remove_run_dir
            if remove:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    self.state_file.unlink()

    def restart_apiserver(self, timeout: float = 60.0) -> float:
        """Stop kube-apiserver (SIGTERM, its graceful shutdown) and start it again on its port.

        For tests that clients (the operator, controllers, kwok) survive an API outage; etcd
        keeps the data. Returns the seconds the API was unavailable.
        """
        with self._lock:
            old = next(p for p in self.procs if p.name == "kube-apiserver")
            t0 = time.monotonic()
            _terminate_tier([old], grace=10.0)
            self.procs.remove(old)
            self._spawn("kube-apiserver", self._apiserver_args())
            self._wait(
                "kube-apiserver /readyz after restart",
                time.monotonic() + timeout,
                lambda: self._http_ok("/readyz"),
            )
            self._write_state()
            return time.monotonic() - t0

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if pid_alive(p.pid)]

    def rss_bytes(self) -> int:
        """Resident memory of all running components (for the harness report)."""
        return rss_bytes(self.pids())

    # -- cleanup plumbing ------------------------------------------------------------------------
    def _atexit_stop(self) -> None:
        self.stop()

    def _register_cleanup(self) -> None:
        atexit.register(self._atexit_stop)
        if not self.install_signal_handlers:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        old = self._old_handlers.get(signum, signal.SIG_DFL)
        self.stop()
        if callable(old):
            old(signum, frame)
        elif old != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _restore_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, old in self._old_handlers.items():
            with contextlib.suppress(Exception):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, old)
        self._old_handlers.clear()

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        log = self.run_dir / "logs" / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [str(self.bin / name), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,  # own process group: stop() kills the whole group
                # PDEATHSIG follows the *thread* that forks: only tie to the main thread.
                preexec_fn=_die_with_parent
                if self.die_with_parent and threading.current_thread() is threading.main_thread()
                else None,
            )
        self.procs.append(_Proc(name, popen.pid, log, popen))

    def _check_alive(self) -> None:
        for p in self.procs:
            if p.popen is not None and p.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{p.name} exited with code {p.popen.returncode}; from {p.log}:\n"
                    f"{_excerpt(p.log)}"
                )

    def _wait(self, what: str, deadline: float, ok: Callable[[], bool]) -> None:
        while True:
            self._check_alive()
            try:
                if ok():
                    return
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name} ---\n{_excerpt(p.log, 10)}" for p in self.procs)
                raise ControlPlaneError(
                    f"timed out waiting for {what} (logs in {self.run_dir / 'logs'}):\n{logs}"
                )
            time.sleep(0.2)

    # -- API access (stdlib only, so the CLI runs on a bare python3) ------------------------------
    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
        return ctx

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Minimal JSON call as the admin user; raises urllib.error.HTTPError on non-2xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, context=self._ssl(), timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def _http_ok(self, url: str, tls: bool = True) -> bool:
        full = self.server + url if url.startswith("/") else url
        try:
            ctx = self._ssl() if tls else None
            with urllib.request.urlopen(full, context=ctx, timeout=5) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError:
            return False

    def _nodes_ready(self) -> bool:
        items = self.api("GET", "/api/v1/nodes")["items"]
        ready = [
            n
            for n in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= self.nodes

    def _create(self, path: str, body: dict[str, Any]) -> None:
        try:
            self.api("POST", path, body)
        except urllib.error.HTTPError as e:
            if e.code != 409:  # already exists (restart on a kept run dir)
                raise

    def _create_nodes_and_storage(self) -> None:
        resources = {"cpu": self.node_cpu, "memory": self.node_memory, "pods": str(self.node_pods)}
        for i in range(self.nodes):
            name = f"kwok-node-{i}"
            self._create(
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {"kwok.x-k8s.io/node": "fake"},
                        "labels": {
                            "type": "kwok",
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                        },
                    },
                    "status": {
                        "allocatable": resources,
                        "capacity": resources,
                        "nodeInfo": {
                            "architecture": "amd64",
                            "operatingSystem": "linux",
                            "kubeletVersion": "fake",
                        },
                        "phase": "Running",
                    },
                },
            )
        self._create(
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "StorageClass",
                "metadata": {
                    "name": "standard",
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                # kube-controller-manager --enable-hostpath-provisioner serves this provisioner.
                "provisioner": "kubernetes.io/host-path",
                "reclaimPolicy": "Delete",
                "volumeBindingMode": "Immediate",
            },
        )

    # -- component flags -------------------------------------------------------------------------
    def _etcd_args(self) -> list[str]:
        client = f"http://{LOOPBACK}:{self.ports['etcd']}"
        peer = f"http://{LOOPBACK}:{self.ports['etcd-peer']}"
        return [
            "--name=tvtt",
            f"--data-dir={self.run_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=tvtt={peer}",
            "--unsafe-no-fsync=true",
            "--quota-backend-bytes=2147483648",
            "--log-level=warn",
        ]

    def _apiserver_args(self) -> list[str]:
        pki = self.pki
        return [
            f"--etcd-servers=http://{LOOPBACK}:{self.ports['etcd']}",
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={self.ports['apiserver']}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            # A loopback advertise address is not a valid Endpoints address; nothing dials it.
            "--endpoint-reconciler-type=none",
            f"--cert-dir={self.run_dir / 'apiserver-certs'}",
            "--profiling=false",
        ]

    def _controller_manager_args(self) -> list[str]:
        kc = self.run_dir / "controller-manager.kubeconfig"
        pki = self.pki
        return [
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={self.ports['controller-manager']}",
            f"--cert-dir={self.run_dir / 'controller-manager-certs'}",
            "--controllers=*",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--enable-hostpath-provisioner=true",
            "--cluster-name=tvtt-e2e",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--profiling=false",
        ]

    def _scheduler_args(self) -> list[str]:
        kc = self.run_dir / "scheduler.kubeconfig"
        return [
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={self.ports['scheduler']}",
            f"--cert-dir={self.run_dir / 'scheduler-certs'}",
            "--leader-elect=false",
            "--profiling=false",
        ]

    def _kwok_args(self) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--config={kwok_stages_file()}",
            # Only the fake nodes: a real kubelet (tests/cluster/node.py) manages its own Node.
            "--manage-nodes-with-label-selector=type=kwok",
            f"--server-address={LOOPBACK}:{self.ports['kwok']}",
            f"--node-ip={LOOPBACK}",
            "--node-lease-duration-seconds=40",
            # Fake pod IPs written into Pod status only; nothing may ever dial them.
            "--cidr=10.244.0.0/16",
        ]

    # -- state file (for `down`/`status` from another process) ----------------------------------
    def _write_state(self) -> None:
        state = {
            "run_dir": str(self.run_dir),
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "versions_key": versions_key(),
            "bin_dir": str(self.bin),
            "ports": self.ports,
            "processes": [{"name": p.name, "pid": p.pid, "log": str(p.log)} for p in self.procs],
            "startup_seconds": self.startup_seconds,
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def detach(self) -> None:
        """Leave the processes running after this Python process exits (for `cluster-up`)."""
        with self._lock:
            self._stopped = True
            with contextlib.suppress(Exception):
                atexit.unregister(self._atexit_stop)
            self._restore_signal_handlers()


# Stop order: clients first, then the API server while etcd is still there to finish its
# graceful shutdown quickly, then etcd. Stopping all at once makes kube-apiserver hang on etcd.
_STOP_TIERS = (("kube-apiserver",), ("etcd",))


def _terminate(procs: list[_Proc], grace: float = 10.0) -> None:
    """Stop process groups tier by tier: SIGTERM, wait up to ``grace``, then SIGKILL; reap."""
    late = {name for tier in _STOP_TIERS for name in tier}
    tiers = [[p for p in procs if p.name not in late]]
    tiers += [[p for p in procs if p.name in tier] for tier in _STOP_TIERS]
    for tier in tiers:
        _terminate_tier(tier, grace)


def _terminate_tier(procs: list[_Proc], grace: float) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        while time.monotonic() < deadline:
            if p.popen is not None:
                if p.popen.poll() is not None:
                    break
            elif not pid_alive(p.pid):
                break
            time.sleep(0.05)
        # Whatever is left in the group (the component or anything it spawned) goes now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        if p.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5)


# ----------------------------------------------------------------------------------------------
# CLI for people: make cluster-up / cluster-down


def default_run_dir() -> Path:
    return cache_root() / "run"


def _load_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state


def _state_procs(state: dict[str, Any]) -> Iterator[_Proc]:
    """Recorded processes that still exist and still run one of our binaries (pid reuse guard)."""
    for entry in state.get("processes", []):
        pid = int(entry["pid"])
        if pid_alive(pid) and state["bin_dir"] in _cmdline(pid):
            yield _Proc(entry["name"], pid, Path(entry["log"]))


def cli_up(run_dir: Path) -> int:
    state = _load_state(run_dir)
    if state and list(_state_procs(state)):
        print(f"# control plane already running (run dir {run_dir})", file=sys.stderr)
        print(f"export KUBECONFIG={state['kubeconfig']}")
        return 0
    if state:
        cli_down(run_dir, quiet=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    cp = ControlPlane(run_dir, die_with_parent=False)
    try:
        cp.start()
    except ControlPlaneError as e:
        print(f"cluster-up failed: {e}", file=sys.stderr)
        return 1
    cp.detach()
    rss = cp.rss_bytes() / 2**20
    print(
        f"# control plane Ready in {cp.startup_seconds:.1f}s at {cp.server} "
        f"(RSS {rss:.0f} MiB, logs in {run_dir / 'logs'}); stop with `make cluster-down`",
        file=sys.stderr,
    )
    print(f"# kubectl/helm of the pinned versions: export PATH={cp.bin}:$PATH", file=sys.stderr)
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0


def cli_down(run_dir: Path, quiet: bool = False) -> int:
    state = _load_state(run_dir)
    if state is None:
        if not quiet:
            print(f"no control plane recorded in {run_dir}", file=sys.stderr)
        return 0
    procs = list(_state_procs(state))
    _terminate(procs)
    shutil.rmtree(run_dir, ignore_errors=True)
    if not quiet:
        print(f"stopped {len(procs)} process(es); removed {run_dir}", file=sys.stderr)
    return 0


def cli_status(run_dir: Path) -> int:
    state = _load_state(run_dir)
    if state is None:
        print(f"no control plane recorded in {run_dir}")
        return 1
    alive = {p.name: p.pid for p in _state_procs(state)}
    for entry in state["processes"]:
        pid = alive.get(entry["name"])
        print(f"{entry['name']:<26} {'running pid ' + str(pid) if pid else 'NOT RUNNING'}")
    print(f"server      {state['server']}")
    print(f"RSS         {rss_bytes(list(alive.values())) / 2**20:.0f} MiB")
    print(f"export KUBECONFIG={state['kubeconfig']}")
    return 0 if len(alive) == len(state["processes"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.controlplane")
    parser.add_argument("command", choices=["up", "down", "status", "bin-dir"])
    parser.add_argument("--run-dir", type=Path, default=default_run_dir())
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.expanduser().resolve()
    if args.command == "up":
        return cli_up(run_dir)
    if args.command == "down":
        return cli_down(run_dir)
    if args.command == "bin-dir":
        print(bin_dir())
        return 0
    return cli_status(run_dir)


if __name__ == "__main__":
    sys.exit(main())
