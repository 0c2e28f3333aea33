#!/bin/sh
# Build the traveller-vtt wheel from a source tree and install it, with one extra, into a new
# venv, pinned by constraints/<extra>.txt. The ONE install recipe: Dockerfile.server and
# Dockerfile.operator RUN it, and tests/packaging runs the same RUN line, so what the tests
# start is what the images ship.
#
# Usage: tools/install-wheel.sh EXTRA VENV_DIR      (run from the source root)
#   PYTHON  interpreter that creates the venv (default: python3)
set -eu

extra="${1:?usage: install-wheel.sh EXTRA VENV_DIR}"
venv="${2:?usage: install-wheel.sh EXTRA VENV_DIR}"
constraints="constraints/${extra}.txt"
[ -f "$constraints" ] || { echo "install-wheel.sh: no $constraints (known extras: server, operator)" >&2; exit 2; }

"${PYTHON:-python3}" -m venv "$venv"
pip="$venv/bin/python -m pip --no-cache-dir --disable-pip-version-check"
$pip install --quiet -c constraints/build.txt pip
# Python 3.11's venv seeds an old setuptools; nothing at run time needs it (the lock would say).
$pip uninstall --quiet --yes setuptools

wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
$pip wheel --quiet --no-deps --build-constraint constraints/build.txt --wheel-dir "$wheels" .
set -- "$wheels"/traveller_vtt-*.whl
[ "$#" -eq 1 ] && [ -f "$1" ] || { echo "install-wheel.sh: expected one wheel, got: $*" >&2; exit 1; }
$pip install --quiet -c "$constraints" "$1[$extra]"
$pip check >/dev/null
