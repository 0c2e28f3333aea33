"""`python -m tvtt_operator [--namespace NS ...]`: run the operator (all namespaces by default)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import kopf

import tvtt_operator.handlers  # noqa: F401  (registers the handlers)
from tvtt_operator.config import OperatorConfig


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the scope and hand over to kopf; TVTT_OPERATOR_NAMESPACES works like --namespace."""
    parser = argparse.ArgumentParser(prog="python -m tvtt_operator", description=__doc__)
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default when no namespace is given)",
    )
    args = parser.parse_args(argv)
    namespaces = [*args.namespace, *OperatorConfig().namespaces]
    if args.all_namespaces and namespaces:
        parser.error("--all-namespaces and --namespace exclude each other")
    kopf.configure(verbose=False)
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces)


if __name__ == "__main__":
    main()
