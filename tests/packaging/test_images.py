"""The images' install recipe, replayed without Docker (see images.py for how).

What an image ships is what these tests start: the wheel built from the Dockerfile's build
context, installed by the Dockerfile's own RUN line with the committed constraints, started with
its ENV, its entrypoint and (as root) its uid.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from testkit.ports import free_port
from testkit.processes import http_status
from tests.packaging.images import (
    IMAGE_UID,
    ROOT,
    Image,
    built_image,
    read_stages,
    started,
)

DOCKERFILES = ["server", "operator"]
# Debian's python3 per release: the public base and the real node's base are the same release.
DEBIAN_PYTHON = {"bookworm": (3, 11)}


def read_pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a constraints file, names canonical."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


@pytest.fixture(scope="module", params=DOCKERFILES)
def image(request: pytest.FixtureRequest) -> Iterator[Image]:
    with built_image(request.param) as built:
        yield built


@pytest.fixture(scope="module")
def server_image() -> Iterator[Image]:
    with built_image("server") as built:
        yield built


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_is_multistage_on_one_debian_slim_base_and_runs_as_non_root(
    name: str,
) -> None:
    stages = read_stages(ROOT / f"Dockerfile.{name}")
    assert len(stages) >= 2, "build tools must stay out of the runtime stage"
    assert len({s.base for s in stages}) == 1, "the venv is copied between stages: same Python"
    match = re.fullmatch(r"debian:([a-z]+)-slim", stages[0].base)
    assert match, f"base {stages[0].base!r} must be a Debian release's slim tag"
    # The replayed venv below is made by this interpreter: same minor, same wheels (cp311).
    assert DEBIAN_PYTHON[match[1]] == sys.version_info[:2]
    for stage in stages:
        apt = [r for r in stage.values("RUN") if "apt-get install" in r]
        assert len(apt) == 1, f"{name}: each stage installs Debian's python3 when the base lacks it"
        assert "python3" in apt[0].split(), apt
    assert stages[-1].values("USER") == [f"{IMAGE_UID}:{IMAGE_UID}"]


def test_the_lock_pins_everything_the_image_installs(image: Image) -> None:
    extra = image.dockerfile.suffix.lstrip(".")
    listed = subprocess.run(
        [str(image.venv / "bin/python"), "-m", "pip", "list", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed: dict[str, str] = {
        canonicalize_name(d["name"]): d["version"] for d in json.loads(listed)
    }
    assert installed.pop("traveller-vtt") == _project_version()
    assert installed.pop("pip") == read_pins(ROOT / "constraints/build.txt")["pip"]
    assert installed == read_pins(ROOT / f"constraints/{extra}.txt"), (
        "the image installs something the lock does not pin: run make constraints"
    )


@pytest.mark.parametrize(
    "data_dir",
    [
        pytest.param("static", id="the-tabletop-page"),
        pytest.param("store/lua", id="the-redis-store-lua-scripts"),
    ],
)
def test_the_wheel_carries_the_package_data(server_image: Image, data_dir: str) -> None:
    found = subprocess.run(
        [
            str(server_image.venv / "bin/python"),
            "-c",
            "import gameserver, pathlib; print(pathlib.Path(gameserver.__file__).parent)",
        ],
        cwd="/",
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    installed = Path(found) / data_dir
    assert installed.is_relative_to(server_image.venv), "imported from outside the image venv"
    # The Docker build context the wheel was built from (COPY gameserver/ + .dockerignore).
    context_dir = server_image.venv.parent / "context/gameserver" / data_dir

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    assert files(context_dir), f"gameserver/{data_dir}/ is empty: nothing to compare"
    assert files(installed) == files(context_dir)


def test_server_entrypoint_answers_health_and_the_healthcheck_tracks_it(
    server_image: Image,
) -> None:
    assert server_image.healthcheck, "Dockerfile.server needs a HEALTHCHECK"
    port = str(free_port())

    def healthcheck() -> int:
        return subprocess.run(
            server_image.healthcheck or [],
            env=server_image.run_env(PORT=port),
            cwd="/",
            user=server_image.user,
            group=server_image.user,
            capture_output=True,
            timeout=30,
        ).returncode

    with started(server_image, PORT=port) as server:
        url = f"http://127.0.0.1:{port}/health"
        server.wait_for(f"200 from {url}", lambda: http_status(url) == 200)
        assert healthcheck() == 0, server.output()
        code = server.stop()
        assert code == 0, f"SIGTERM should drain and exit 0, got {code}:\n{server.output()}"
    assert healthcheck() != 0, "the HEALTHCHECK must fail when the server is down"


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        version: str = tomllib.load(fh)["project"]["version"]
    return version
