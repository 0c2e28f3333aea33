"""Small helpers for e2e tests: run the pinned kubectl/helm and poll for conditions.

Tests wait on conditions with deadlines (``wait_for``), never on fixed sleeps, so they are as fast
as the cluster allows and fail with the last observed state when it never converges.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class CommandError(AssertionError):
    """A kubectl/helm call failed; carries the command, exit code and both output streams."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        cmd = " ".join(str(a) for a in proc.args)
        super().__init__(
            f"`{cmd}` exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.25,
    message: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that value.

    Exceptions raised by the predicate count as "not yet" (the cluster may still be converging);
    on timeout the last value or exception is reported.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except Exception as e:
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {message}; last: {last!r}"
            )
        time.sleep(interval)


class Tool:
    """A CLI (kubectl or helm) bound to one kubeconfig and, optionally, a namespace."""

    def __init__(
        self,
        binary: Path | str,
        kubeconfig: Path,
        namespace: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = str(binary)
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.env = dict(env or {})

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [self.binary, "--kubeconfig", str(self.kubeconfig)]
        if self.namespace is not None:
            argv += ["--namespace", self.namespace]
        return [*argv, *args]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the tool; raise ``CommandError`` on a non-zero exit when ``check``."""
        proc = subprocess.run(
            self._argv(args),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env},
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandError(proc)
        return proc

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        """Run and return stdout."""
        return self.run(*args, input=input, check=check).stdout


class Kubectl(Tool):
    """kubectl with JSON and manifest conveniences."""

    def in_namespace(self, namespace: str | None) -> Kubectl:
        return Kubectl(self.binary, self.kubeconfig, namespace, self.env)

    def json(self, *args: str) -> Any:
        """``kubectl ... -o json`` parsed."""
        return json.loads(self(*args, "-o", "json"))

    def get(self, kind: str, name: str | None = None, *args: str) -> Any:
        return self.json("get", kind, *([name] if name else []), *args)

    def exists(self, kind: str, name: str) -> bool:
        proc = self.run("get", kind, name, "--ignore-not-found", "-o", "name", check=False)
        if proc.returncode:
            raise CommandError(proc)
        return bool(proc.stdout.strip())

    def apply(self, manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
        """``kubectl apply -f -`` of YAML text, one object, or a list of objects."""
        if isinstance(manifest, str):
            text = manifest
        elif isinstance(manifest, Mapping):
            text = json.dumps(manifest)
        else:
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifest)})
        return self("apply", "-f", "-", input=text)


class Helm(Tool):
    """helm with its config/cache/data dirs kept out of the user's home."""
