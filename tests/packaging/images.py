"""Reproduce a Dockerfile's install without Docker: same build context, same RUN line, same ENV.

No Docker engine runs here, so the tests read ``Dockerfile.<name>`` (dockerfile-parse) and replay
what the engine would do: copy the build stage's COPY sources into a scratch context (honouring
``.dockerignore``), run the stage's ``tools/install-wheel.sh`` RUN line with ``/bin/sh -c`` in
that context (only the venv path is moved out of ``/opt``), and start the final stage's
ENTRYPOINT/CMD with its ENV — as uid 10001 when we are root, like the image's USER.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from testkit.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = "tools/install-wheel.sh"
IMAGE_UID = 10001


@dataclass
class Stage:
    """One FROM ... section of a Dockerfile, as (instruction, value) pairs in order."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        """Values of every `instruction` in this stage (e.g. all COPY lines)."""
        return [v for i, v in self.instructions if i == instruction]


def read_stages(dockerfile: Path) -> list[Stage]:
    """Split a Dockerfile into stages (continuation lines joined by dockerfile-parse)."""
    with dockerfile.open("rb") as fh:
        parsed = DockerfileParser(fileobj=fh, env_replace=False)
        structure = parsed.structure
    stages: list[Stage] = []
    global_args: dict[str, str] = {}  # ARGs before the first FROM, at their defaults
    for item in structure:
        instruction, value = item["instruction"], " ".join(item["value"].split())
        if instruction == "ARG" and not stages:
            name, _, default = value.partition("=")
            global_args[name.strip()] = default.strip()
        elif instruction == "FROM":
            base, _, name = value.partition(" AS ")
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), ""), base)
            stages.append(Stage(base=base.strip(), name=name.strip() or None))
        elif instruction != "COMMENT":
            if not stages:
                raise ValueError(f"{dockerfile}: {instruction} before the first FROM")
            stages[-1].instructions.append((instruction, value))
    return stages


def exec_form(value: str) -> list[str]:
    """Parse a JSON (exec-form) CMD/ENTRYPOINT; shell form is refused (no signal forwarding)."""
    argv = json.loads(value)
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError(f"not an exec-form array: {value}")
    return argv


def dockerignore_patterns(root: Path = ROOT) -> list[str]:
    """Patterns of `.dockerignore` (comments and blanks dropped)."""
    lines = (root / ".dockerignore").read_text().splitlines()
    return [ln.strip().strip("/") for ln in lines if ln.strip() and not ln.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule for the patterns we use: anchored at the context root, `**/` any depth."""
    for pat in patterns:
        if fnmatch.fnmatchcase(rel, pat):
            return True
        if pat.startswith("**/"):
            tail = pat[3:]
            parts = rel.split("/")
            if any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts))):
                return True
    return False


def copy_context(stage: Stage, dest: Path, root: Path = ROOT) -> None:
    """Do the stage's plain COPY lines (sources relative to the repo, which is the context).

    Docker's rules: a folder source copies its contents into the target; a file source lands
    inside a target ending in `/`, else becomes the target.
    """
    patterns = dockerignore_patterns(root)
    for value in stage.values("COPY"):
        if value.startswith("--"):
            raise ValueError(f"build stage COPY with flags is not reproduced here: {value}")
        *sources, target = shlex.split(value)
        for source in sources:
            src = root / source
            if src.is_dir():
                for path in sorted(src.rglob("*")):
                    rel = path.relative_to(root).as_posix()
                    if path.is_file() and not any(ignored(p, patterns) for p in _prefixes(rel)):
                        out = dest / target / path.relative_to(src)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, out)
            else:
                out = dest / target / src.name if target.endswith("/") else dest / target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)


def _prefixes(rel: str) -> list[str]:
    """'a/b/c' -> ['a', 'a/b', 'a/b/c']: a file is ignored when any parent folder is."""
    parts = rel.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class Image:
    """A Dockerfile replayed into a local venv; `argv`/`env` start what the image would."""

    dockerfile: Path
    venv: Path
    image_venv: str
    argv: list[str]
    env: dict[str, str]
    healthcheck: list[str] | None
    user: int | None

    def run_env(self, **overrides: str) -> dict[str, str]:
        """The image's ENV mapped onto the local venv, plus per-test overrides."""
        return {**self.env, **overrides}


def install_run_line(stage: Stage) -> str:
    """The one RUN line of the build stage that calls tools/install-wheel.sh."""
    runs = [v for v in stage.values("RUN") if INSTALL_SCRIPT in v]
    if len(runs) != 1:
        raise ValueError(f"expected one RUN calling {INSTALL_SCRIPT}, found {runs}")
    return runs[0]


def replay(dockerfile: Path, workspace: Path) -> Image:
    """Build the image's venv under `workspace` exactly as the Dockerfile's build stage does.

    The scratch context stands in for the build stage's WORKDIR; `workspace` must be readable
    by the image's uid when we are root (the caller creates it 0755).
    """
    stages = read_stages(dockerfile)
    build, final = stages[0], stages[-1]
    copies = [v for v in final.values("COPY") if v.startswith(f"--from={build.name} ")]
    if len(copies) != 1:
        raise ValueError(f"final stage must COPY --from={build.name} exactly one venv: {copies}")
    image_venv, _ = shlex.split(copies[0])[1:]

    context = workspace / "context"
    context.mkdir(parents=True)
    copy_context(build, context)
    venv = workspace / "venv"
    run_line = install_run_line(build)
    python = image_python()
    env = {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHON": str(python),
        "HOME": str(workspace),
    }
    subprocess.run(
        ["/bin/sh", "-c", run_line.replace(image_venv, str(venv))],
        cwd=context,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return Image(
        dockerfile=dockerfile,
        venv=venv,
        image_venv=image_venv,
        argv=_entrypoint(final),
        env=_image_env(final, image_venv, venv),
        healthcheck=_healthcheck(final),
        user=image_user(python),
    )


def image_python() -> Path:
    """The interpreter that stands in for the image's /usr/local/bin/python3.

    The one the tests run on (same minor as the image, asserted in the tests; same patch on the
    dev machine, so environment markers such as redis's `python_full_version < "3.11.3"` resolve
    as in the image and the lock check is exact).
    """
    major, minor = sys.version_info[:2]
    return Path(sys.base_prefix) / "bin" / f"python{major}.{minor}"


def image_user(python: Path) -> int | None:
    """Run entrypoints as the image's uid when we are root and that uid can run `python`.

    A pyenv build under /root (0700) cannot be run by another uid; then the entrypoint runs as
    the current user and non-root is left to the static USER check and the chart's
    `runAsNonRoot`.
    """
    if os.geteuid() == 0 and _world_executable(python.resolve()):
        return IMAGE_UID
    return None


def _world_executable(path: Path) -> bool:
    """Can any user exec `path` (o+x on the file and on every folder above it)?"""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def _entrypoint(stage: Stage) -> list[str]:
    entry = stage.values("ENTRYPOINT")
    cmd = stage.values("CMD")
    return (exec_form(entry[-1]) if entry else []) + (exec_form(cmd[-1]) if cmd else [])


def _image_env(stage: Stage, image_venv: str, venv: Path) -> dict[str, str]:
    env: dict[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for value in stage.values("ENV"):
        for token in shlex.split(value):
            key, _, raw = token.partition("=")
            resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), raw)
            env[key] = resolved.replace(image_venv, str(venv))
    return env


def _healthcheck(stage: Stage) -> list[str] | None:
    checks = stage.values("HEALTHCHECK")
    if not checks:
        return None
    _, _, cmd = checks[-1].partition(" CMD ")
    return exec_form(cmd)


@contextlib.contextmanager
def built_image(name: str) -> Iterator[Image]:
    """Replay ``Dockerfile.<name>`` into a scratch folder (0755: the image uid must read it)."""
    workspace = Path(tempfile.mkdtemp(prefix=f"tvtt-image-{name}-"))
    workspace.chmod(0o755)
    try:
        try:
            image = replay(ROOT / f"Dockerfile.{name}", workspace)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"the install RUN line of Dockerfile.{name} failed ({exc.returncode}):\n"
                f"{exc.stdout}\n{exc.stderr}"
            ) from exc
        yield image
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


@contextlib.contextmanager
def started(image: Image, argv: list[str] | None = None, **env: str) -> Iterator[Running]:
    """Start the image's entrypoint (or `argv`) as the image would: its ENV, cwd /, its uid.

    Stops it (SIGTERM, then SIGKILL after 30 s) also when the test fails.
    """
    log = image.venv.parent / f"entrypoint-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv or image.argv,
            env=image.run_env(**env),
            cwd="/",
            user=image.user,
            group=image.user,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(proc, log)
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Running:
    """A started entrypoint and its combined stdout/stderr log."""

    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """Everything the process wrote so far (for failure messages)."""
        return self.log.read_text(errors="replace")

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code."""
        return stop_process(self.proc, grace)

    def wait_for(self, what: str, ok: Callable[[], bool], timeout: float = 60.0) -> None:
        """Poll `ok` until true; fail early with the log if the process died."""
        deadline = time.monotonic() + timeout
        while not ok():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"exited {self.proc.returncode} before {what}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout:.0f}s:\n{self.output()}")
            time.sleep(0.2)
