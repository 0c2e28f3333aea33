"""Start and stop a real Kubernetes control plane on 127.0.0.1 for tests and for people.

Components (built by ``tests/cluster/build.sh`` into ``~/.cache/traveller-vtt/<key>/bin``):
etcd, kube-apiserver (RBAC on), kube-controller-manager (with the hostpath test provisioner),
kube-scheduler and kwok (a fake kubelet that makes Nodes Ready and Pods Running without running
containers). Every port is chosen free at start so two runs can coexist; each component runs in its
own process group and is stopped on ``stop()``, at interpreter exit and on SIGTERM/SIGHUP, and
(when ``die_with_parent``) by the kernel if this process is killed outright.

CLI (in ``cli``): ``python -m tests.cluster.controlplane up|down|status [--run-dir DIR]``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
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
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from testkit.ports import free_ports
from tests.cluster.pins import (
    BUILD_SCRIPT,
    HERE,
    ControlPlaneError,
    bin_dir,
    cache_root,
    kwok_stages_file,
    missing_binaries,
    read_versions,
    versions_key,
)
from tests.cluster.pki import LOOPBACK, _openssl, generate_pki, write_kubeconfig
from tests.cluster.procs import (
    PR_SET_PDEATHSIG,
    _die_with_parent,
    _excerpt,
    _Proc,
    _tail,
    _terminate,
    _terminate_tier,
    pid_alive,
    rss_bytes,
)

# The pins, the PKI and the process helpers live in their own modules (`pins`, `pki`, `procs`);
# their names stay importable from here, where the node, the operator process, the chart tests
# and the e2e fixtures have always found them.
__all__ = [
    "HERE",
    "LOOPBACK",
    "PR_SET_PDEATHSIG",
    "ControlPlane",
    "ControlPlaneError",
    "_Proc",
    "_die_with_parent",
    "_excerpt",
    "_openssl",
    "bin_dir",
    "cache_root",
    "missing_binaries",
    "pid_alive",
    "read_versions",
    "write_kubeconfig",
]

SERVICE_CIDR = "10.96.0.0/16"  # virtual; only ever written into objects, never dialled
START_ATTEMPTS = 3


# ----------------------------------------------------------------------------------------------
# Control plane


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


if __name__ == "__main__":
    # The CLI for people lives in `cli`; imported here, when run, as it imports this module.
    from tests.cluster.cli import main

    sys.exit(main())
