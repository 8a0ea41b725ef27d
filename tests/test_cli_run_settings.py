"""`keras-nas run`: config files, time limits, and bad input left untouched."""

import hashlib
import json
import os

import numpy as np
import pytest
from cli_helpers import invoke
from cli_helpers import run_args
from keras_nas_cli.config_file import ConfigError
from keras_nas_cli.config_file import load_config

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def snapshot(folder):
    """Every file under `folder` with a hash of its content."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return files


def write(path, text):
    path.write_text(text)
    return path


def test_config_file_settings_with_command_line_overrides(tmp_path, npz_dataset):
    config = write(tmp_path / "search.yaml", f"""
dataset: {npz_dataset}
space: {{name: mlp, max_layers: 1, widths: [4, 8]}}
strategy: {{name: evolution, population_size: 3, sample_size: 2}}
max_trials: 5
epochs: 1
directory: {tmp_path / "runs"}
name: from-config
export_dir: {tmp_path / "models"}
final_fit: false
ensemble: 1
""")
    result = invoke("run", "--config", config, "--max-trials", 2, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "Trial 2/2" in result.output and "Trial 3/" not in result.output
    run_dir = tmp_path / "runs" / "from-config"
    search = json.loads((run_dir / "search.json").read_text())
    assert search["strategy"] == "evolution" and search["max_trials"] == 2
    assert search["seed"] == 3
    assert search["space_config"]["max_layers"] == 1
    assert search["space_config"]["widths"] == [4, 8]
    assert (tmp_path / "models" / "from-config" / "saved_model.pb").exists()


def test_json_config_is_read_too(tmp_path, npz_dataset):
    config = write(tmp_path / "search.json", json.dumps({
        "dataset": npz_dataset, "space": "mlp", "max_trials": 1, "epochs": 1,
        "directory": str(tmp_path / "runs"), "export_dir": str(tmp_path / "m"),
        "final_fit": False, "ensemble": 1,
    }))
    result = invoke("run", "--config", config)
    assert result.exit_code == 0, result.output
    assert "Trial 1/1" in result.output


def test_objectives_budgets_and_early_stopping_from_a_config(tmp_path, npz_dataset):
    config = write(tmp_path / "search.yaml", f"""
dataset: {npz_dataset}
space: mlp
max_trials: 3
epochs: 3
objective: [val_accuracy, flops]
select: "val_accuracy, flops<=300"
max_params: 300
early_stopping: asha
directory: {tmp_path / "runs"}
name: c
export_dir: {tmp_path / "models"}
final_fit: false
""")
    result = invoke("run", "--config", config)
    assert result.exit_code == 0, result.output
    assert "objectives val_accuracy, flops, max_params=300" in result.output
    assert "Epochs trained: " in result.output
    metrics = json.loads((tmp_path / "models" / "c" / "metrics.json").read_text())
    assert metrics["params"] <= 300 and metrics["flops"] <= 300
    assert [o["name"] for o in metrics["objectives"]] == ["val_accuracy", "flops"]


def test_example_config_is_valid():
    config = load_config(os.path.join(EXAMPLES, "search.yaml"))
    assert config["strategy"]["name"] == "evolution"
    assert config["space"]["name"] == "convnet"


def test_yaml_is_loaded_safely(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path / "evil.yaml", (
        "dataset: !!python/object/apply:os.system "
        f"['touch {marker}']\n"
    ))
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(str(path))
    assert not marker.exists()


BAD_CONFIGS = [
    ("a.yaml", "epoch: 3\n", "unknown key 'epoch'"),
    ("a.yaml", "epochs: ten\n", "epochs must be a positive integer, received 'ten'"),
    ("a.yaml", "max_trials: 0\n", "max_trials must be a positive integer"),
    ("a.yaml", "seed: true\n", "seed must be an integer"),
    ("a.yaml", "max_latency_ms: -1\n", "max_latency_ms must be a positive number"),
    ("a.yaml", "objective: [val_accuracy, 3]\n", "objective must be a name"),
    ("a.yaml", "space: {max_layers: 2}\n", "space must be a name or a mapping"),
    ("a.yaml", "- just\n- a list\n", "expected a mapping of settings"),
    ("a.yaml", "dataset: [unclosed\n", "is not valid YAML"),
    ("a.json", "{'single': 'quotes'}", "is not valid JSON"),
    ("a.toml", "x = 1", "expected a .yaml, .yml or .json file"),
]


@pytest.mark.parametrize("name, text, message", BAD_CONFIGS)
def test_bad_config_exits_2_with_one_line(tmp_path, monkeypatch, name, text, message):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / name, text)
    before = snapshot(tmp_path)
    result = invoke("run", "--config", config)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "--config" in lines[0] and message in lines[0]
    assert snapshot(tmp_path) == before


def npz(tmp_path, x, y):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.asarray(x, dtype="float32"), y=np.asarray(y))
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--time-limit", "0"), "--time-limit"),
        (("--time-limit", "soon"), "--time-limit"),
        (("--max-failures", 0), "--max-failures"),
        (("--workers", 0), "--workers"),
        (("--batch-size", 0), "--batch-size"),
        (("--space", "nb201"), "'nb201' space, which takes image or audio inputs"),
        (("--strategy", "nope"), "--strategy"),
    ],
)
def test_bad_settings_exit_2_and_write_nothing(tmp_path, npz_dataset, extra, message):
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, npz_dataset, *extra))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "y, options, message",
    [
        (["cat", "dog"] * 20, ["--task", "regression"],
         "regression task needs numeric targets"),
        ([0, 1, 2, 0] * 10, ["--task", "binary"],
         "'binary' needs labels with exactly two distinct values"),
        (np.linspace(0, 1, 40), ["--task", "regression", "--objective", "val_accuracy"],
         "regression task reports"),
        ([np.nan] + [1.5] * 39, ["--task", "regression"], "NaN or infinite"),
        ([0, 1] * 20, ["--objective", "val_mae"], "binary task reports"),
    ],
)
def test_labels_that_do_not_fit_the_task_exit_2(tmp_path, y, options, message):
    rng = np.random.default_rng(0)
    dataset = npz(tmp_path, rng.normal(size=(40, 3)), np.array(y))
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, dataset, *options))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert snapshot(tmp_path) == before


def test_a_text_label_column_for_regression_exits_2(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("a,b,label\n" + "".join(
        f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n" for i in range(30)
    ))
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, str(path), "--task", "regression"))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "numeric targets" in result.output
    assert snapshot(tmp_path) == before


def test_features_with_nan_exit_2(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3))
    x[7, 1] = np.inf
    dataset = npz(tmp_path, x, [0, 1] * 20)
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, dataset))
    assert result.exit_code == 2, result.output
    assert "1 NaN or infinite values" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_unknown_space_or_strategy_argument_in_config(tmp_path, npz_dataset):
    for text, message in [
        ("space: {name: mlp, depth: 3}\n", "'depth'"),
        ("space: mlp\nstrategy: {name: evolution, populaton_size: 3}\n",
         "'populaton_size'"),
        ("space: mlp\nstrategy: {name: evolution, population_size: -3}\n",
         "population_size=-3"),
    ]:
        config = write(tmp_path / "c.yaml", text)
        before = snapshot(tmp_path)
        result = invoke("run", "--config", config, "--dataset", npz_dataset,
                        "--directory", tmp_path / "runs")
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
        assert snapshot(tmp_path) == before


def test_corrupt_or_foreign_run_folder_is_refused_and_untouched(tmp_path, npz_dataset):
    quick = ("--no-final-fit", "--ensemble", 1)  # Not about the exported model.
    assert invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1, *quick)).exit_code == 0
    run_dir = tmp_path / "runs" / "toy"
    (run_dir / "oracle.json").write_text('{"ongoing_trials": {"tuner0": ')
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2, "--resume", *quick))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "corrupt: oracle.json" in lines[0], result.output
    assert "--overwrite" in lines[0]
    assert snapshot(tmp_path) == before

    # Valid JSON, but not an oracle's state.
    (run_dir / "oracle.json").write_text("{}")
    before = snapshot(tmp_path)
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2, "--resume", *quick))
    assert result.exit_code == 2, result.output
    assert "cannot be resumed" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before

    started_over = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1, "--overwrite",
                                    *quick))
    assert started_over.exit_code == 0, started_over.output

    foreign = tmp_path / "runs" / "notes"
    foreign.mkdir()
    (foreign / "oracle.json").write_text("{}")
    (foreign / "thesis.txt").write_text("do not delete")
    before = snapshot(tmp_path)
    for flag in ("--resume", "--overwrite"):
        result = invoke("run", "--dataset", npz_dataset, "--space", "mlp",
                        "--directory", tmp_path / "runs", "--name", "notes", flag)
        assert result.exit_code == 2, result.output
        assert "not a keras-nas run folder" in result.output
        assert snapshot(tmp_path) == before


def test_time_limit_stops_and_exports_best_so_far(tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(1500) % 2
    x = rng.normal(size=(1500, 8)) + y[:, None]
    dataset = npz(tmp_path, x, y)
    # Long enough for a first trial even on a loaded machine.
    result = invoke(*run_args(tmp_path, dataset, "--max-trials", 200,
                              "--epochs", 2, "--time-limit", "30s",
                              "--no-final-fit", "--ensemble", 1))
    assert result.exit_code == 0, result.output
    assert "Time limit of 00:00:30 reached" in result.output
    assert "Trial 200/200" not in result.output
    assert (tmp_path / "models" / "toy" / "saved_model.pb").exists()


def test_consecutive_failures_exit_1_with_one_line(tmp_path, monkeypatch, npz_dataset):
    from keras_nas.spaces import MLP

    def broken(self, decisions):
        raise ValueError("broken on purpose")

    monkeypatch.setattr(MLP, "_build_network", broken)
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 9,
                              "--max-failures", 2))
    assert result.exit_code == 1, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: The search stopped after 2 consecutive failed")
    assert "broken on purpose" in last and "--resume" in last
    assert "Traceback" not in result.output
