"""Run every `bench/bench_*.py` module's `run()` in turn, or only those named on the command line.

Usage: `python -m bench` (all) or `python -m bench rules load` (a subset by suffix).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Discover the benchmark modules so each area adds its own without touching this file."""
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    wanted = set(argv)
    if wanted:
        names = [n for n in names if n.removeprefix("bench_") in wanted]
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        module.run()
        print(f"--- {name} took {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
