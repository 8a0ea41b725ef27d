"""TensorBoard logs: read back with TensorBoard's own event reader."""

import glob
import os

import pytest
from cli_helpers import completed_trials
from cli_helpers import invoke
from cli_helpers import run_args
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from keras_nas.engine.tensorboard_logs import CONFIG_RUN
from keras_nas.engine.tensorboard_logs import TensorBoardLogs


def _hparams_summaries(folder):
    """The HParams plugin's summaries of every event file under `folder`."""
    found = []
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        accumulator = event_accumulator.EventAccumulator(
            path, size_guidance={event_accumulator.TENSORS: 0})
        accumulator.Reload()
        content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
        for tag, raw in content.items():
            data = plugin_data_pb2.HParamsPluginData.FromString(raw)
            found.append((tag, data, accumulator))
    return found


# Under pytest-xdist (--dist loadgroup) the whole file runs on one worker,
# so its expensive module-scoped fixtures are built once.
pytestmark = pytest.mark.xdist_group("tensorboard_logs")


def _scalars(accumulator):
    return {
        tag: float(tensor_util.make_ndarray(accumulator.Tensors(tag)[0].tensor_proto))
        for tag in accumulator.Tags()["tensors"]
        if not tag.startswith("_hparams_")
    }


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tb")
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    x = rng.normal(size=(40, 6)).astype("float32") + y[:, None]
    np.savez(folder / "toy.npz", x=x, y=y)
    result = invoke(*run_args(folder, folder / "toy.npz", "--max-trials", 3,
                              "--tensorboard", folder / "tb",
                              "--no-final-fit", "--ensemble", 1))
    assert result.exit_code == 0, result.output
    return folder


def test_every_trial_has_its_hparams_session(search):
    trials = completed_trials(search / "runs" / "toy")
    assert len(trials) == 3
    for trial_id, trial in trials.items():
        summaries = _hparams_summaries(search / "tb" / f"trial_{trial_id}")
        starts = [d for tag, d, _ in summaries if tag == metadata.SESSION_START_INFO_TAG]
        assert len(starts) == 1, (trial_id, summaries)
        start = starts[0].session_start_info
        assert start.group_name == f"trial_{trial_id}"
        values = trial["hyperparameters"]["values"]
        assert start.hparams["num_layers"].number_value == values["num_layers"]
        assert start.hparams["activation_0"].string_value == values["activation_0"]
        scalars = _scalars(summaries[0][2])
        assert scalars["val_accuracy"] == pytest.approx(trial["score"])
        params = trial["metrics"]["metrics"]["params"]["observations"][0]["value"][0]
        assert scalars["params"] == params


def test_trials_have_training_logs(search):
    for trial_id in completed_trials(search / "runs" / "toy"):
        for part in ("train", "validation"):
            files = glob.glob(str(search / "tb" / f"trial_{trial_id}" / part / "events.*"))
            assert files, (trial_id, part)
            accumulator = event_accumulator.EventAccumulator(files[0])
            accumulator.Reload()
            assert "epoch_loss" in accumulator.Tags()["tensors"]


def test_experiment_declares_decisions_and_metrics(search):
    summaries = _hparams_summaries(search / "tb" / CONFIG_RUN)
    experiments = [d.experiment for tag, d, _ in summaries
                   if tag == metadata.EXPERIMENT_TAG]
    assert len(experiments) == 1
    names = {h.name for h in experiments[0].hparam_infos}
    assert {"num_layers", "units_0", "activation_0"} <= names
    metrics = [m.name.tag for m in experiments[0].metric_infos]
    assert metrics[0] == "val_accuracy" and "params" in metrics and "flops" in metrics


def test_log_dir_must_be_a_path():
    with pytest.raises(ValueError, match="tensorboard_dir=3"):
        TensorBoardLogs(3)
