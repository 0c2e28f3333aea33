"""A real node beside the loopback control plane: containerd + runc + CNI bridge + kubelet.

Pods scheduled here really run (images built by ``tests/cluster/build-node.sh``, imported into a
containerd whose root, state and socket live in the run dir). What the node may do to the
machine is fenced in (see docs/cluster.md):

- network: one bridge (``tvtt-br0``, 10.213.0.1/24) made here; pods get an on-link route only,
  no gateway, no masquerade, ``ip_forward`` untouched. The node registers the bridge address,
  so even host-network pods and the kubelet's probes stay on loopback and that bridge.
- processes: containerd, its shims, the kubelet and every container live in one cgroup made for
  the run under this process's own cgroup (kubelet ``cgroupRoot``); stop kills that tree.
- host state: the sysctls the kubelet sets and the iptables chains it adds are restored/removed
  on stop; fixed paths outside the run dir that did not exist before are removed.
- a run killed outright leaves a record under ``<cache>/node-runs``; the next start (which holds
  a machine-wide lock, so records always belong to dead runs) tears it down first.

Stdlib only, like controlplane.py. Linux, root, cgroup v1 or v2.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from testkit.ports import free_ports
from tests.cluster.controlplane import (
    HERE,
    LOOPBACK,
    PR_SET_PDEATHSIG,
    ControlPlane,
    ControlPlaneError,
    _excerpt,
    _openssl,
    _Proc,
    cache_root,
    write_kubeconfig,
)

BUILD_SCRIPT = HERE / "build-node.sh"
NODE_NAME = "tvtt-real-node"
NODE_LABEL = "tvtt.dev/real-node"
# Tainted so the e2e suite's other pods stay on kwok's nodes; real-node pods tolerate it.
NODE_TAINT = {"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}
BRIDGE = "tvtt-br0"
BRIDGE_IP = "10.213.0.1"
SUBNET_PREFIX = 24
CLUSTER_DOMAIN = "cluster.local"
SYSCTLS = ("kernel.panic", "kernel.panic_on_oops", "vm.overcommit_memory")
# What the kubelet adds (table -> chains); built-in chains jumping to them are cleaned too.
KUBELET_CHAINS = {
    "filter": ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY"),
    "nat": ("KUBE-KUBELET-CANARY",),
    "mangle": ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT"),
}
# Paths the runtime writes whatever we configure; removed on stop when they were not there.
FIXED_PATHS = (
    "/run/netns",
    "/run/containerd",
    "/var/lib/cni",
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/etc/cni/net.d",
    "/etc/cni",
    "/var/lib/containers",
)
NETNS_DIR = Path("/run/netns")  # containerd 1.6 says /var/run/netns; mountinfo says /run
CGROUP_FS = Path("/sys/fs/cgroup")
IMAGES = ("pause", "server", "operator", "redis")  # imported into every run's containerd


class NodeError(ControlPlaneError):
    """The real node could not be started (message carries the failing log's tail)."""


def registry() -> Path:
    """Records of runs in progress (a killed run's record is cleaned by the next start)."""
    return cache_root() / "node-runs"


def read_manifest() -> dict[str, tuple[Path, str]]:
    """name -> (path, image ref) of what build-node.sh builds (kubelet: ref is empty)."""
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print-manifest"], capture_output=True, text=True, check=True
    ).stdout
    manifest: dict[str, tuple[Path, str]] = {}
    for line in out.splitlines():
        name, _, rest = line.partition("=")
        path, _, ref = rest.partition(" ")
        manifest[name] = (Path(path), ref)
    return manifest


def missing_pieces(manifest: dict[str, tuple[Path, str]] | None = None) -> list[str]:
    """Pieces build-node.sh has not built yet (empty when the node can start)."""
    m = manifest or read_manifest()
    return [name for name in ("kubelet", "coredns", *IMAGES) if not m[name][0].is_file()]


def missing_commands() -> list[str]:
    """Debian packages' commands the node needs (`make` installs them via tools/ensure-apt.sh)."""
    return [c for c in ("containerd", "ctr", "runc", "ip", "iptables") if not shutil.which(c)] + [
        p for p in ("/usr/lib/cni/bridge", "/usr/lib/cni/host-local") if not Path(p).exists()
    ]


# ----------------------------------------------------------------------------------------------
# cgroups


def _hierarchies() -> list[Path]:
    """Mounted cgroup hierarchies: every v1 controller folder, or the one v2 tree."""
    if (CGROUP_FS / "cgroup.controllers").exists():
        return [CGROUP_FS]
    return sorted(p for p in CGROUP_FS.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())


def own_cgroup() -> str:
    """This process's cgroup path (memory controller on v1: the one a job is accounted in)."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") or [""]:
            paths[c] = path
    return paths.get("memory") or paths.get("") or "/"


def _make_cgroup(rel: str) -> None:
    """mkdir -p the cgroup in every hierarchy (cpuset levels get their parent's cpus/mems)."""
    for h in _hierarchies():
        path = h
        for part in Path(rel.strip("/")).parts:
            parent, path = path, path / part
            if not path.exists():
                path.mkdir()
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if (path / knob).exists() and not (path / knob).read_text().strip():
                        (path / knob).write_text((parent / knob).read_text())


def _cgroup_pids(rel: str) -> set[int]:
    pids: set[int] = set()
    for h in _hierarchies():
        root = h / rel.strip("/")
        if root.is_dir():
            for procs in root.rglob("cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(x) for x in procs.read_text().split())
    return pids


def kill_cgroup(rel: str, timeout: float = 20.0) -> None:
    """SIGKILL everything in the cgroup tree until it is empty, then remove its folders."""
    deadline = time.monotonic() + timeout
    while (pids := _cgroup_pids(rel)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for h in _hierarchies():
        root = h / rel.strip("/")
        if root.is_dir():
            for d in sorted(
                (p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
            ):
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                root.rmdir()


# ----------------------------------------------------------------------------------------------
# host state


def _run(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def read_sysctls() -> dict[str, str]:
    return {k: Path("/proc/sys", *k.split(".")).read_text().strip() for k in SYSCTLS}


def restore_sysctls(values: dict[str, str]) -> None:
    for key, value in values.items():
        with contextlib.suppress(OSError):
            Path("/proc/sys", *key.split(".")).write_text(value)


def remove_kubelet_chains() -> None:
    """Delete the kubelet's iptables chains and the built-in chains' jumps to them."""
    for tool in ("iptables", "ip6tables"):
        if not shutil.which(tool):
            continue
        for table, chains in KUBELET_CHAINS.items():
            rules = _run(tool, "-w", "-t", table, "-S").stdout.splitlines()
            for rule in rules:
                parts = rule.split()
                if parts[:1] == ["-A"] and any(f"-j {c}" in rule for c in chains):
                    _run(tool, "-w", "-t", table, "-D", *parts[1:])
            for chain in chains:
                _run(tool, "-w", "-t", table, "-F", chain)
                _run(tool, "-w", "-t", table, "-X", chain)


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix``, deepest first (for unmounting)."""
    prefix = os.path.realpath(prefix)  # mountinfo has resolved paths (/var/run -> /run)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: -p.count("/"))


def unmount_under(prefix: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    mnt_detach = 2
    for _ in range(3):  # a lazy unmount can reveal mounts stacked below
        points = mounts_under(prefix)
        if not points:
            return
        for point in points:
            libc.umount2(point.encode(), mnt_detach)


def netns_names() -> set[str]:
    return {p.name for p in NETNS_DIR.glob("cni-*")} if NETNS_DIR.is_dir() else set()


@dataclass
class Record:
    """What a run changed on the host, written before it changes it (read back to undo it)."""

    run_dir: str
    cgroup: str
    sysctls: dict[str, str]
    created_paths: list[str]
    netns_before: list[str]
    bridge: str = BRIDGE

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Record:
        return cls(**json.loads(path.read_text()))


def teardown(record: Record) -> None:
    """Undo one run: processes, mounts, netns, bridge, chains, sysctls, paths, run dir.

    Idempotent; used by ``stop()`` and, for a killed run, by the next ``start()``.
    """
    kill_cgroup(record.cgroup)
    unmount_under(record.run_dir)
    for name in netns_names() - set(record.netns_before):
        unmount_under(str(NETNS_DIR / name))
        with contextlib.suppress(OSError):
            (NETNS_DIR / name).unlink()
    _run("ip", "link", "delete", record.bridge)
    remove_kubelet_chains()
    restore_sysctls(record.sysctls)
    for path in record.created_paths:
        unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(record.run_dir, ignore_errors=True)


def forwarding() -> str:
    """The host's IPv4 forwarding switch (the node must never turn it on)."""
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def leaks(record: Record, ip_forward: str) -> list[str]:
    """What a finished run left changed on the host (empty = all restored)."""
    found = [
        f"{k} = {v}, was {record.sysctls[k]}"
        for k, v in read_sysctls().items()
        if v != record.sysctls[k]
    ]
    if forwarding() != ip_forward:
        found.append(f"ip_forward = {forwarding()}, was {ip_forward}")
    if _run("ip", "link", "show", record.bridge).returncode == 0:
        found.append(f"bridge {record.bridge} still there")
    rules = "\n".join(_run(t, "-w", "-S", "-t", table).stdout
                      for t in ("iptables", "ip6tables") if shutil.which(t)
                      for table in KUBELET_CHAINS)  # fmt: skip
    found += [f"iptables chain {c}" for c in sorted({c for cs in KUBELET_CHAINS.values()
                                                     for c in cs}) if c in rules]  # fmt: skip
    found += [f"cgroup {h / record.cgroup.strip('/')}" for h in _hierarchies()
              if (h / record.cgroup.strip("/")).exists()]  # fmt: skip
    found += [f"path {p}" for p in record.created_paths if os.path.lexists(p)]
    found += [f"netns {n}" for n in sorted(netns_names() - set(record.netns_before))]
    found += [f"mount {m}" for m in mounts_under(record.run_dir)]
    if Path(record.run_dir).exists():
        found.append(f"run dir {record.run_dir}")
    return found


def clean_leftovers() -> int:
    """Tear down every recorded run (call with the node lock held: they are all dead)."""
    count = 0
    for path in sorted(registry().glob("*.json")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            teardown(Record.load(path))
            count += 1
        path.unlink(missing_ok=True)
    return count


def take_node_lock(timeout: float) -> IO[str]:
    """One real node per machine (fixed bridge and subnet): wait for another run to end.

    The flock goes with the process, so a killed run's lock is free and its record is garbage.
    """
    path = cache_root() / "node.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("w")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() > deadline:
                fh.close()
                raise NodeError(f"another real node holds {path}") from None
            time.sleep(1)


# ----------------------------------------------------------------------------------------------
# the node


class RealNode:
    """containerd + kubelet registered with ``control_plane`` as Node ``tvtt-real-node``.

    ``start()`` imports the built images; ``refs`` maps image names (``server``, ``operator``,
    ``redis``, ``pause``) to the references pods use. ``stop()`` undoes everything.
    """

    def __init__(self, control_plane: ControlPlane, run_dir: Path | None = None) -> None:
        self.cp = control_plane
        self.run_id = secrets.token_hex(4)
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="tvtt-node-"))
        self.cgroup = f"{own_cgroup().rstrip('/')}/tvtt-node-{self.run_id}"
        self.manifest = read_manifest()
        self.refs = {name: self.manifest[name][1] for name in IMAGES}
        self.procs: list[_Proc] = []
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None
        self.record: Record | None = None
        self.last_record: Record | None = None
        self.ip_forward = ""
        self._lock_file: IO[str] | None = None
        self._record_path = registry() / f"{self.run_id}.json"

    # -- paths -----------------------------------------------------------------------------------
    @property
    def socket(self) -> Path:
        return self.run_dir / "containerd" / "containerd.sock"

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    @property
    def corefile(self) -> Path:
        return self.run_dir / "Corefile"

    @property
    def pod_logs(self) -> Path:
        """The kubelet's podLogsDir: <namespace>_<pod>_<uid>/<container>/<n>.log."""
        return self.run_dir / "pod-logs"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> RealNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180.0) -> RealNode:
        missing = missing_pieces(self.manifest) + missing_commands()
        if missing:
            raise NodeError(
                f"real-node pieces missing: {', '.join(missing)}. Build them with "
                "`make node-bins` (or bash tests/cluster/build-node.sh)."
            )
        t0 = time.monotonic()
        self._take_lock(timeout)
        clean_leftovers()
        try:
            self._start(t0 + timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _take_lock(self, timeout: float) -> None:
        self._lock_file = take_node_lock(timeout)

    def _start(self, deadline: float) -> None:
        for sub in ("logs", "containerd", "kubelet", "cni/net.d", "cni/ipam", "pod-logs", "pki"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.record = Record(
            run_dir=str(self.run_dir),
            cgroup=self.cgroup,
            sysctls=read_sysctls(),
            created_paths=[p for p in FIXED_PATHS if not os.path.lexists(p)],
            netns_before=sorted(netns_names()),
        )
        self.record.save(self._record_path)
        self.ip_forward = self.forwarding()
        _make_cgroup(f"{self.cgroup}/runtime")
        self._make_bridge()
        self._write_configs()
        self._spawn("containerd", ["containerd", "--config", str(self.run_dir / "containerd.toml")])
        self._wait("containerd socket", deadline, self.socket.exists)
        self._wait("containerd CRI", deadline, self._ctr_ok)
        self._spawn("coredns", [str(self.manifest["coredns"][0]), "-conf", str(self.corefile)])
        self._spawn("kubelet", [str(self.manifest["kubelet"][0]), *self._kubelet_args()])
        # The kubelet registers while the images go in (imports take most of the start time).
        for name in IMAGES:
            path, _ = self.manifest[name]
            self._ctr("images", "import", "--all-platforms", str(path))
        self._wait("CoreDNS on the bridge", deadline, self._dns_listening)
        self._wait("Node Ready", deadline, self._node_ready)

    def stop(self) -> None:
        """Stop everything and undo what the run changed on the host (safe to call twice)."""
        for p in self.procs:
            if p.name == "kubelet" and p.popen is not None and p.popen.poll() is None:
                p.popen.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.popen.wait(timeout=10)
        if self.record is not None:
            teardown(self.record)
        for p in self.procs:
            if p.popen is not None:
                with contextlib.suppress(ProcessLookupError):
                    p.popen.kill()
                p.popen.wait()
        self.procs.clear()
        with contextlib.suppress(Exception):
            self.cp.api("DELETE", f"/api/v1/nodes/{NODE_NAME}")
        self._record_path.unlink(missing_ok=True)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.last_record, self.record = self.record or self.last_record, None

    # -- pieces ----------------------------------------------------------------------------------
    def _make_bridge(self) -> None:
        _run("ip", "link", "delete", BRIDGE)
        for argv in (
            ("ip", "link", "add", BRIDGE, "type", "bridge"),
            ("ip", "addr", "add", f"{BRIDGE_IP}/{SUBNET_PREFIX}", "dev", BRIDGE),
            ("ip", "link", "set", BRIDGE, "up"),
        ):
            proc = _run(*argv)
            if proc.returncode:
                raise NodeError(f"{' '.join(argv)} failed: {proc.stderr}")

    def _write_configs(self) -> None:
        run = self.run_dir
        pause_ref = self.refs["pause"]
        (run / "containerd.toml").write_text(
            containerd_config(run, self.socket, pause_ref, run / "cni/net.d")
        )
        (run / "cni/net.d/10-tvtt.conflist").write_text(json.dumps(cni_config(run), indent=2))
        self.ports = dict(zip(("kubelet", "healthz"), free_ports(2), strict=True))
        (run / "kubelet.yaml").write_text(json.dumps(self.kubelet_config(), indent=2))
        (run / "resolv.conf").write_text("")
        self.corefile.write_text(corefile(self.cp.kubeconfig))
        pki = run / "pki"
        for name in ("ca.crt", "ca.key"):
            shutil.copy(self.cp.pki / name, pki / name)
        (pki / "node.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=clientAuth\n"
        )
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl("req", "-new", *ec, "-keyout", "node.key", "-out", "node.csr",
                 "-subj", f"/O=system:nodes/CN=system:node:{NODE_NAME}", cwd=pki)  # fmt: skip
        _openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "30", "-out", "node.crt",
                 "-extfile", "node.ext", cwd=pki)  # fmt: skip
        (pki / "ca.key").unlink()
        write_kubeconfig(run / "kubelet.kubeconfig", self.cp.server, pki, "node")

    def kubelet_config(self) -> dict[str, Any]:
        run = self.run_dir
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup,
            "address": LOOPBACK,
            "port": self.ports["kubelet"],
            "healthzBindAddress": LOOPBACK,
            "healthzPort": self.ports["healthz"],
            "readOnlyPort": 0,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(run / "pki/ca.crt")},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "podLogsDir": str(self.pod_logs),
            "resolvConf": str(run / "resolv.conf"),
            "clusterDNS": [BRIDGE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "failSwapOn": False,
            "maxPods": 30,
            "registerWithTaints": [NODE_TAINT],
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "50Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "serializeImagePulls": False,
            "nodeStatusUpdateFrequency": "4s",
            "syncFrequency": "10s",
            "fileCheckFrequency": "10s",
            "shutdownGracePeriod": "0s",
        }

    def _kubelet_args(self) -> list[str]:
        run = self.run_dir
        return [
            f"--config={run / 'kubelet.yaml'}",
            f"--kubeconfig={run / 'kubelet.kubeconfig'}",
            f"--root-dir={run / 'kubelet'}",
            f"--cert-dir={run / 'kubelet/pki'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={BRIDGE_IP}",
            f"--node-labels={NODE_LABEL}=true",
            "--v=1",
        ]

    def _spawn(self, name: str, argv: list[str]) -> None:
        """Start a component inside the run's cgroup (so stop can kill its whole tree)."""
        cgroup_procs = [
            h / self.cgroup.strip("/") / "runtime" / "cgroup.procs" for h in _hierarchies()
        ]
        main = threading.current_thread() is threading.main_thread()

        def preexec() -> None:
            for procs in cgroup_procs:
                with contextlib.suppress(OSError):
                    procs.write_text(str(os.getpid()))
            if main:
                ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

        log = self.log(name)
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                start_new_session=True,
                preexec_fn=preexec,
            )
        self.procs.append(_Proc(name, popen.pid, log, popen))

    def _check_alive(self) -> None:
        for p in self.procs:
            if p.popen is not None and p.popen.poll() is not None:
                raise NodeError(
                    f"{p.name} exited with code {p.popen.returncode}; from {p.log}:\n"
                    f"{_excerpt(p.log)}"
                )

    def _wait(self, what: str, deadline: float, ok: Callable[[], bool]) -> None:
        while True:
            self._check_alive()
            with contextlib.suppress(OSError, ValueError, KeyError, urllib.error.URLError):
                if ok():
                    return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name} ---\n{_excerpt(p.log, 15)}" for p in self.procs)
                raise NodeError(f"timed out waiting for {what} (logs in {self.run_dir}):\n{logs}")
            time.sleep(0.3)

    def _ctr(self, *args: str) -> str:
        proc = _run("ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args)
        if proc.returncode:
            raise NodeError(f"ctr {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout

    def _ctr_ok(self) -> bool:
        return _run("ctr", "--address", str(self.socket), "version").returncode == 0

    def _dns_listening(self) -> bool:
        with socket.create_connection((BRIDGE_IP, 53), timeout=1):
            return True

    def _node_ready(self) -> bool:
        node = self.cp.api("GET", f"/api/v1/nodes/{NODE_NAME}")
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in node.get("status", {}).get("conditions", [])
        )

    # -- for tests -------------------------------------------------------------------------------
    def forwarding(self) -> str:
        """The host's IPv4 forwarding switch (the node must never turn it on)."""
        return forwarding()

    def leaks(self) -> list[str]:
        """After ``stop()``: what the run left changed on the host (empty = all restored)."""
        if self.last_record is None:
            return ["the node never started"]
        return leaks(self.last_record, self.ip_forward)

    def tag_image(self, name: str, tag: str) -> str:
        """A second reference to an imported image (e.g. to roll a Deployment to a new tag)."""
        source = self.refs[name]
        target = f"{source.rpartition(':')[0]}:{tag}"
        self._ctr("images", "tag", "--force", source, target)
        return target

    def container_logs(self, namespace: str, pod: str) -> Iterator[Path]:
        """Log files of a pod's containers (kubectl logs cannot reach a kubelet on loopback)."""
        yield from sorted(self.pod_logs.glob(f"{namespace}_{pod}_*/*/*.log"))


def corefile(kubeconfig: Path) -> str:
    """CoreDNS answers `cluster.local` from the API on the bridge address, and nothing else.

    Purely computational. No `forward` plugin: a pod's query for any other name is refused
    here instead of leaving the machine.
    """
    return f"""{CLUSTER_DOMAIN}:53 {{
    bind {BRIDGE_IP}
    errors
    kubernetes {CLUSTER_DOMAIN} {{
        kubeconfig {kubeconfig}
        ttl 1
    }}
}}
"""


def containerd_config(run: Path, socket: Path, pause_ref: str, cni_conf: Path) -> str:
    """containerd 1.6 config: everything under ``run``; CRI with the local pause image.

    Purely computational. ``restrict_oom_score_adj``: this VM refuses lower OOM scores (runc
    fails with "can't get final child's PID from pipe" otherwise). The `opt` plugin would write
    /opt/containerd, so it is off.
    """
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{run / "containerd/root"}"
state = "{run / "containerd/state"}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[{cri}]
  sandbox_image = "{pause_ref}"
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "{LOOPBACK}"
  stream_server_port = "0"
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{run / "runc"}"
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"""


def cni_config(run: Path) -> dict[str, Any]:
    """The bridge plugin on the harness's bridge: no gateway, no masquerade, on-link only.

    Purely computational. Without `routes` in the IPAM section a pod gets the /24 on-link route
    and nothing else, so it can reach the bridge address and other pods, never off the machine.
    """
    base = BRIDGE_IP.rsplit(".", 1)[0]
    return {
        "cniVersion": "0.4.0",
        "name": "tvtt",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": False,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [
                        [
                            {
                                "subnet": f"{base}.0/{SUBNET_PREFIX}",
                                "rangeStart": f"{base}.10",
                                "rangeEnd": f"{base}.250",
                            }
                        ]
                    ],
                    "dataDir": str(run / "cni/ipam"),
                },
            }
        ],
    }
