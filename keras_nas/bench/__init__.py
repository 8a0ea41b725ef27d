"""Tabular benchmarks: run any KerasTuner oracle against a table, no training.

Example:

```python
from keras_nas import bench

table = bench.Table.from_csv("nb201_cifar10_12ep.csv")
result = bench.run_benchmark(table, ["random"], budget=100, repeats=10)
print(bench.format_comparison(result))
```
"""

from keras_nas.bench import baselines
from keras_nas.bench.baselines import BASELINES
from keras_nas.bench.baselines import comparison_baselines
from keras_nas.bench.baselines import comparison_strategies
from keras_nas.bench.baselines import kerastuner_seed
from keras_nas.bench.baselines import make_oracle
from keras_nas.bench.baselines import oracle_factory
from keras_nas.bench.baselines import strategy_names
from keras_nas.bench.comparison import default_metrics
from keras_nas.bench.comparison import run_benchmark
from keras_nas.bench.driver import check_search
from keras_nas.bench.driver import run_oracle
from keras_nas.bench.optuna_nsga2 import OptunaNSGA2Oracle
from keras_nas.bench.optuna_oracle import OptunaOracle
from keras_nas.bench.optuna_tpe import OptunaTPEOracle
from keras_nas.bench.pareto import HypervolumeScale
from keras_nas.bench.report import format_comparison
from keras_nas.bench.report import from_dict
from keras_nas.bench.report import read_json
from keras_nas.bench.report import save_regret_plot
from keras_nas.bench.report import to_dict
from keras_nas.bench.report import to_json
from keras_nas.bench.results import BenchmarkResult
from keras_nas.bench.results import RunResult
from keras_nas.bench.results import StrategyResult
from keras_nas.bench.results import pick_curve
from keras_nas.bench.table import ArchitectureNotInTable
from keras_nas.bench.table import Table
