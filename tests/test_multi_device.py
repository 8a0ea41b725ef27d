"""A search under `MirroredStrategy` over two logical CPUs, then its export.

TensorFlow splits a physical device into logical ones only before it
initialises, so the search runs in a fresh Python process.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras_nas as kn

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
rng = np.random.default_rng(0)
x = rng.normal(size=(16, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
space = kn.spaces.MLP(input_shape=(4,), num_classes=2, max_layers=1,
                      widths=(4, 8), activations=("relu",),
                      dropout_rates=(0.0,))
tuner = kn.NASTuner(space, max_trials=2, directory=sys.argv[1], seed=0,
                    distribution_strategy=strategy, verbose=0)
tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=8)
statuses = [t.status for t in tuner.oracle.trials.values()]
assert statuses == ["COMPLETED"] * 2, statuses
assert tuner.distribution_strategy is strategy
model = tuner.get_best_models(1)[0]
# Built under the strategy: each weight has a copy on either device.
assert len(model.weights[0].value.values) == 2, model.weights[0].value
path = tuner.export(sys.argv[2])
loaded = tf.saved_model.load(str(path))
served = loaded.serve(x).numpy()
np.testing.assert_allclose(served, model(x).numpy(), atol=1e-6)
print("served", served.shape)
"""


def test_search_and_export_under_mirrored_strategy_on_two_cpus(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "runs"),
         str(tmp_path / "export")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "served (16, 2)" in result.stdout
