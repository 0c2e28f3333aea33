"""Render the operator chart with the pinned helm (no cluster needed) and read what it made.

helm comes from the control-plane cache (`make cluster-bins`); its built-in default Kubernetes
version is unusable when it is built with `go install`, so every render passes the pinned
server version explicitly (the chart declares a `kubeVersion`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.controlplane import bin_dir, read_versions
from tests.packaging.images import ROOT

CHART = ROOT / "charts" / "traveller-vtt-operator"
RELEASE = "tvtt"


class RenderError(AssertionError):
    """helm refused the chart or the values; carries helm's own message."""


def helm_binary() -> Path:
    """The pinned helm; a clear failure (never a skip) when it has not been built."""
    helm = bin_dir() / "helm"
    if not os.access(helm, os.X_OK):
        raise AssertionError(f"{helm} missing: run `make cluster-bins`")
    return helm


def kube_version() -> str:
    """The control plane's version, the one the chart is rendered for."""
    return read_versions()["KUBERNETES_VERSION"].lstrip("v")


def helm_env(home: Path) -> dict[str, str]:
    """Keep helm's config/cache/data out of the user's home."""
    dirs = {f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}
    return {**os.environ, **dirs}


def render(
    values: Mapping[str, Any] | None = None,
    namespace: str = "games",
    extra: Sequence[str] = (),
    home: Path | None = None,
) -> list[dict[str, Any]]:
    """`helm template` the chart with `values`, returning the manifests (CRDs included)."""
    argv = [
        str(helm_binary()),
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        namespace,
        "--kube-version",
        kube_version(),
        "--include-crds",
        "--values",
        "-",
        *extra,
    ]
    env = helm_env(home) if home else dict(os.environ)
    proc = subprocess.run(
        argv,
        input=json.dumps(dict(values or {})),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise RenderError(proc.stderr.strip())
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def by_kind(manifests: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Every rendered object of one kind."""
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: Sequence[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single rendered object of `kind` (fails if there are none or several)."""
    found = by_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]


def canonical_rules(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """PolicyRules in a comparable form: same grants compare equal whatever the list order."""
    return sorted(json.dumps(rule, sort_keys=True) for rule in rules)
