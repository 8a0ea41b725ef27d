"""Final training and ensembles at export: `NASTuner.export` and the CLI."""

import json

import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke
from cli_helpers import run_args

import keras_nas as kn
from keras_nas.runs.final_fit import final_epochs


@pytest.fixture
def searched(tmp_path):
    """A finished 3-trial MLP search on a separable 3-class toy problem."""
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = (rng.normal(size=(90, 4)) + y[:, None]).astype("float32")
    space = kn.spaces.MLP((4,), num_classes=3, max_layers=1, widths=(4, 8))
    tuner = kn.NASTuner(space, max_trials=3, directory=tmp_path,
                        project_name="p", seed=3, verbose=0, latency=False)
    tuner.search(x[:40], y[:40], validation_data=(x[40:60], y[40:60]),
                 epochs=3, batch_size=8)
    return tuner, (x[60:], y[60:])


def read(path, name):
    return json.loads((path / name).read_text())


def test_final_epochs_is_the_best_epoch_count_or_the_given_one():
    class Trial:
        best_step = 4

    assert final_epochs(Trial()) == 5
    assert final_epochs(Trial(), 2) == 2
    with pytest.raises(ValueError, match="final_epochs=0"):
        final_epochs(Trial(), 0)


def test_final_fit_trains_on_train_and_validation(searched, tmp_path):
    tuner, (x_test, y_test) = searched
    path = tuner.export(tmp_path / "final", x_test=x_test, y_test=y_test,
                        final_fit=True)
    metrics = read(path, "metrics.json")
    best = tuner.oracle.get_best_trials(1)[0]
    assert metrics["final_fit"] == [{
        "trial_id": best.trial_id, "epochs": best.best_step + 1, "seed": 3,
        "samples": 60, "seconds": metrics["final_fit"][0]["seconds"],
    }]
    assert metrics["val_accuracy"] == pytest.approx(
        best.metrics.get_best_value("val_accuracy"))
    trial_model = tuner.load_model(best)
    trial_figure = trial_model.evaluate(x_test, y_test, verbose=0,
                                        return_dict=True)["accuracy"]
    assert metrics["trial_test_accuracy"] == pytest.approx(trial_figure)
    m = tf.saved_model.load(str(path))
    served = m.serve(tf.constant(x_test)).numpy()
    assert not np.allclose(served, trial_model.predict(x_test, verbose=0))
    assert metrics["test_accuracy"] == pytest.approx(
        np.mean(served.argmax(axis=1) == y_test))


def test_final_epochs_overrides_the_trials(searched, tmp_path):
    tuner, _ = searched
    path = tuner.export(tmp_path / "final", final_fit=True, final_epochs=2)
    assert read(path, "metrics.json")["final_fit"][0]["epochs"] == 2


def test_export_without_final_fit_keeps_the_trials_weights(searched, tmp_path):
    tuner, (x_test, y_test) = searched
    path = tuner.export(tmp_path / "plain", x_test=x_test, y_test=y_test)
    metrics = read(path, "metrics.json")
    assert metrics["final_fit"] is None and "trial_test_accuracy" not in metrics
    best = tuner.oracle.get_best_trials(1)[0]
    m = tf.saved_model.load(str(path))
    np.testing.assert_allclose(
        m.serve(tf.constant(x_test)).numpy(),
        tuner.load_model(best).predict(x_test, verbose=0), rtol=1e-5, atol=1e-6)


def test_ensemble_export_serves_the_weighted_members(searched, tmp_path):
    tuner, (x_test, y_test) = searched
    path = tuner.export(tmp_path / "ensemble", x_test=x_test, y_test=y_test,
                        ensemble=3)
    metrics = read(path, "metrics.json")
    members = metrics["ensemble"]["members"]
    assert 1 <= len(members) <= 3
    assert sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert metrics["ensemble"]["single_best"] == tuner.oracle.get_best_trials(1)[0].trial_id
    architecture = read(path, "architecture.json")
    assert [m["trial_id"] for m in architecture["ensemble"]] == [
        m["trial_id"] for m in members]
    expected = sum(
        m["weight"] * tuner.load_model(tuner.oracle.trials[m["trial_id"]])
        .predict(x_test, verbose=0)
        for m in members
    )
    m = tf.saved_model.load(str(path))
    np.testing.assert_allclose(m.serve(tf.constant(x_test)).numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    assert metrics["final_fit"] is None


def test_ensemble_members_are_final_trained(searched, tmp_path):
    tuner, _ = searched
    path = tuner.export(tmp_path / "ensemble", final_fit=True, ensemble=2)
    metrics = read(path, "metrics.json")
    fits = [m["final_fit"] for m in metrics["ensemble"]["members"]]
    assert fits == metrics["final_fit"]
    assert all(f["samples"] == 60 for f in fits)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"ensemble": 0}, "ensemble=0"), ({"final_fit": True, "final_epochs": -1},
                                       "final_epochs=-1")],
)
def test_export_refuses_bad_values_and_writes_nothing(searched, tmp_path, kwargs,
                                                     message):
    tuner, _ = searched
    with pytest.raises(ValueError, match=message):
        tuner.export(tmp_path / "bad", **kwargs)
    assert not (tmp_path / "bad").exists()


def test_final_fit_needs_the_search_data_in_this_process(searched, tmp_path):
    tuner, _ = searched
    again = kn.NASTuner(tuner.hypermodel, max_trials=3, directory=tmp_path,
                        project_name="p", seed=3, verbose=0, latency=False)
    with pytest.raises(RuntimeError, match="call search"):
        again.export(tmp_path / "x", final_fit=True)


def test_cli_run_final_fit_and_ensemble_then_export(tmp_path, npz_dataset):
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 2,
                              "--ensemble", 2, "--final-epochs", 1))
    assert result.exit_code == 0, result.output
    assert "Final fit: trial" in result.output and "Ensemble of" in result.output
    metrics = read(tmp_path / "models" / "toy", "metrics.json")
    assert metrics["final_fit"][0]["epochs"] == 1
    assert metrics["final_fit"][0]["samples"] == 30  # 40 less a test quarter
    out = tmp_path / "again"
    exported = invoke("export", tmp_path / "runs" / "toy", "--out", out,
                      "--final-fit", "--ensemble", 2)
    assert exported.exit_code == 0, exported.output
    again = read(out, "metrics.json")
    assert [f["samples"] for f in again["final_fit"]] == [30] * len(
        again["ensemble"]["members"])
    assert again["ensemble"]["size"] == 2


def test_cli_no_final_fit_exports_the_trials_model(tmp_path, npz_dataset):
    result = invoke(*run_args(tmp_path, npz_dataset, "--max-trials", 1,
                              "--no-final-fit", "--ensemble", 1))
    assert result.exit_code == 0, result.output
    assert "Final fit" not in result.output
    assert read(tmp_path / "models" / "toy", "metrics.json")["final_fit"] is None


@pytest.mark.parametrize(
    "extra, option",
    [(("--ensemble", 0), "--ensemble"), (("--final-epochs", -2), "--final-epochs"),
     (("--test-fraction", 1.5), "--test-fraction")],
)
def test_cli_bad_values_exit_2_and_write_nothing(tmp_path, npz_dataset, extra,
                                                 option):
    result = invoke(*run_args(tmp_path, npz_dataset, *extra))
    assert result.exit_code == 2
    assert option in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() and not (tmp_path / "models").exists()


def test_cli_export_bad_values_exit_2(tmp_path):
    result = invoke("export", tmp_path, "--out", tmp_path / "o", "--ensemble", 0)
    assert result.exit_code == 2 and "--ensemble" in result.output
    assert not (tmp_path / "o").exists()


def test_config_file_bad_ensemble_exits_2(tmp_path, npz_dataset):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"ensemble": 0}))
    result = invoke(*run_args(tmp_path, npz_dataset, "--config", config))
    assert result.exit_code == 2 and "ensemble" in result.output
    assert not (tmp_path / "runs").exists()
