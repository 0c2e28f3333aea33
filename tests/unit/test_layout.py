"""The repo layout must not break the stdlib (see STYLE.md: why `operator/` is no package)."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_stdlib_operator_is_not_shadowed_from_repo_root() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        sys.modules.pop("operator", None)
        operator = importlib.import_module("operator")
        assert operator.itemgetter(1)(["a", "b"]) == "b"
        assert not hasattr(operator, "__path__"), "operator/ must stay a plain folder"
    finally:
        sys.path.remove(str(ROOT))


def test_operator_package_imports_under_its_own_name() -> None:
    module = importlib.import_module("tvtt_operator")
    assert Path(module.__file__ or "").parent == ROOT / "operator" / "tvtt_operator"
