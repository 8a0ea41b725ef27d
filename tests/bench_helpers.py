"""What the tests of benchmarks share: the shared NB201 table, a script loader."""

import importlib.util
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
BENCHMARKS = REPOSITORY / "benchmarks"
# The NB201 CIFAR-10 table in the shared/ folder beside the repository.
NB201_CSV = str(REPOSITORY.parent / "shared" / "data" / "nb201_cifar10_12ep.csv")


def load_benchmark(name):
    """Imports `benchmarks/NAME.py` as a module (its sibling imports resolved).

    Args:
        name: The script's file name without `.py`.

    Returns:
        The loaded module.
    """
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module
