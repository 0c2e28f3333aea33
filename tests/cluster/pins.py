"""What the control plane is built from: the pinned versions (shared with build.sh), the
cache they are built into and the binaries it must hold; split out of `controlplane`.

Stdlib only, like controlplane.py.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.env"
BUILD_SCRIPT = HERE / "build.sh"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
BINARIES = (*COMPONENTS, "kubectl", "helm")


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
