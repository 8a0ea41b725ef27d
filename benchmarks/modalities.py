"""`keras-nas run` with its defaults on real data of every modality, served raw (issue 26).

For each development data set of `../shared/data` (see its README) the
training part is given to `keras-nas run` in the form users hold it, and
the export is served the untouched test part, as raw inputs, in a process
that imports TensorFlow alone:

| name | given to `keras-nas run` | served |
| --- | --- | --- |
| cifar10_dev | the folder `cifar10_dev_folders/train` (4,000 PNG files) | 1,000 uint8 test images |
| spoken_digits_az | the folder `spoken_digits_az_folders/train` (250 .wav files) | 50 waveforms of an unseen speaker |
| sentiment_sentences | a CSV `text,label` of the 2,250 training sentences | 750 test strings |
| ucr_strawberry, ucr_trace | `*_train.npz` (series) | the test series |
| cifar10_contrast | a CSV `image,contrast` naming the 4,000 training PNG files, each with its grey-level standard deviation / 64 (regression) | 1,000 uint8 test images |

It prints, per data set, the modality the run detected, the run's wall
time, the served test accuracy (R^2 for the regression) and the simple
baseline of the data's README (the same test split; for
cifar10_contrast, ridge regression on the pixels, fitted in the run with
the best of five penalties on the test images). Any `keras-nas run` option can follow `--`,
e.g. `-- --max-trials 4 --epochs 5` for a shorter run; the options used are
printed.

Run it from the repository root:

    python benchmarks/modalities.py [--only NAME ...] [-- RUN OPTIONS]

The defaults (10 trials of 10 epochs, a final fit and an ensemble of 5)
take about an hour on 2 CPU cores, most of it on the images.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "shared", "data")
BASELINES = {
    "cifar10_dev": ("logistic regression on pixels", 0.381),
    "spoken_digits_az": ("logistic regression on spectrogram statistics", 0.560),
    "sentiment_sentences": ("TF-IDF + logistic regression", 0.825),
    "ucr_strawberry": ("1-NN Euclidean", 0.946),
    "ucr_trace": ("1-NN Euclidean", 0.760),
    "cifar10_contrast": ("ridge regression on pixels, R^2", None),
}
_SERVE = """
import sys
import numpy as np
import tensorflow as tf

x = np.load(sys.argv[2], allow_pickle=False)["x"]
m = tf.saved_model.load(sys.argv[1])  # Kept: TF 2.21 needs the reference.
x = x.astype(object) if x.dtype.kind == "U" else x
outputs = np.concatenate([m.serve(tf.constant(x[i:i + 256])).numpy()
                          for i in range(0, len(x), 256)])
np.save(sys.argv[3], outputs)
"""


def read_wav_folder(folder, class_names):
    """The waveforms and labels of a `<class>/*.wav` folder, via keras_nas."""
    from keras_nas.data import folders

    listing = folders.scan_folder(folder)
    clips = folders.read_audio(listing)
    names = np.array(listing.class_names)[clips.labels]
    return clips.x, np.array([class_names.index(n) for n in names])


def prepare(name, workdir):
    """`(dataset given to keras-nas run, test inputs, test labels, class names)`;
    class names are `None` for a regression."""
    if name == "cifar10_contrast":
        return contrast_table(workdir)
    test = np.load(os.path.join(DATA, f"{name}_test.npz"))
    names = [str(c) for c in test["class_names"]]
    if name == "cifar10_dev":
        return os.path.join(DATA, "cifar10_dev_folders", "train"), test["x"], test["y"], names
    if name == "spoken_digits_az":
        folder = os.path.join(DATA, "spoken_digits_az_folders")
        x, y = read_wav_folder(os.path.join(folder, "test"), names)
        return os.path.join(folder, "train"), x, y, names
    if name == "sentiment_sentences":
        train = np.load(os.path.join(DATA, f"{name}_train.npz"))
        path = os.path.join(workdir, "sentiment_train.csv")
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(train["x"], train["y"]))
        return path, test["x"], test["y"], names
    return os.path.join(DATA, f"{name}_train.npz"), test["x"], test["y"], names


def contrast(images):
    """Each image's grey-level standard deviation / 64: a regression target."""
    return images.mean(axis=-1).std(axis=(1, 2)) / 64.0


def contrast_table(workdir):
    """A CSV of the CIFAR-10 training PNG files and their contrast."""
    train = np.load(os.path.join(DATA, "cifar10_dev_train.npz"))
    test = np.load(os.path.join(DATA, "cifar10_dev_test.npz"))
    targets = contrast(train["x"])
    root = os.path.join(DATA, "cifar10_dev_folders", "train")
    path = os.path.join(workdir, "contrast.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "contrast"])
        for label in sorted(os.listdir(root)):
            for file in sorted(os.listdir(os.path.join(root, label))):
                index = int(os.path.splitext(file)[0])  # NNNN: the row of the npz.
                writer.writerow([os.path.join(root, label, file), f"{targets[index]:.6f}"])
    return path, test["x"], contrast(test["x"]), None


def ridge_r2():
    """R^2 on the test images of ridge regression on standardised pixels.

    The best of the penalties 10 ... 100,000 on the test images: generous
    to the baseline.
    """
    return max(_ridge_r2(alpha) for alpha in (1e1, 1e2, 1e3, 1e4, 1e5))


def _ridge_r2(alpha):
    train = np.load(os.path.join(DATA, "cifar10_dev_train.npz"))
    test = np.load(os.path.join(DATA, "cifar10_dev_test.npz"))
    x, x_test = (a["x"].reshape(len(a["x"]), -1).astype("float64") for a in (train, test))
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    x, x_test = (x - mean) / std, (x_test - mean) / std
    y, y_test = contrast(train["x"]), contrast(test["x"])
    weights = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ (y - y.mean()))
    return r2(x_test @ weights + y.mean(), y_test)


def r2(predicted, y):
    """The coefficient of determination."""
    return float(1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2))


def served_outputs(export_dir, x, workdir):
    """The export's `serve` outputs on raw `x`, from a TF-only process."""
    inputs, outputs = (os.path.join(workdir, f) for f in ("x.npz", "out.npy"))
    np.savez(inputs, x=x)
    script = os.path.join(workdir, "serve.py")
    with open(script, "w") as f:
        f.write(_SERVE)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, script, export_dir, inputs, outputs],
                   check=True, env=env)
    return np.load(outputs)


def served_accuracy(export_dir, x, y, names, workdir):
    """The accuracy of the export's `serve` on raw `x`, from a TF-only process."""
    scores = served_outputs(export_dir, x, workdir)
    with open(os.path.join(export_dir, "metrics.json")) as f:
        served_names = [str(c) for c in json.load(f)["class_names"]]
    if scores.shape[1] == 1:  # Binary: the probability of the second class.
        predicted = (scores[:, 0] > 0.5).astype(int)
    else:
        predicted = scores.argmax(axis=1)
    # Served columns follow metrics.json's class_names (the file's names,
    # or its integer labels); map them to the file's label indices.
    predicted = np.array([
        names.index(served_names[p]) if served_names[p] in names
        else int(served_names[p]) for p in predicted
    ])
    return float(np.mean(predicted == y))


def main():
    argv = sys.argv[1:]
    run_options = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=list(BASELINES))
    args = parser.parse_args(argv)
    print(f"keras-nas run options: {' '.join(run_options) or '(defaults)'}")
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.only:
            dataset, x, y, names = prepare(name, workdir)
            command = [
                sys.executable, "-c", "from keras_nas_cli.main import main; main()",
                "run", "--dataset", dataset, "--name", name,
                "--directory", os.path.join(workdir, "runs"),
                "--export-dir", os.path.join(workdir, "models"), *run_options,
            ]
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            seconds = time.perf_counter() - start
            if done.returncode:
                print(f"{name}: keras-nas run failed:\n{done.stdout[-1500:]}{done.stderr[-3000:]}")
                continue
            modality = next(line for line in done.stdout.splitlines()
                            if line.startswith("Modality: "))
            export_dir = os.path.join(workdir, "models", name)
            baseline, figure = BASELINES[name]
            if names is None:  # Regression.
                score = r2(served_outputs(export_dir, x, workdir)[:, 0], y)
                print(f"{name}: {modality}; run {seconds / 60:.1f} min; served "
                      f"test R^2 {score:.3f} on {len(y):,} raw inputs (the "
                      f"mean: 0; {baseline}: {ridge_r2():.3f})", flush=True)
                continue
            accuracy = served_accuracy(export_dir, x, y, names, workdir)
            print(f"{name}: {modality}; run {seconds / 60:.1f} min; served "
                  f"test accuracy {accuracy:.3f} on {len(y):,} raw inputs "
                  f"(chance {1 / len(names):.2f}; {baseline}: {figure:.3f})",
                  flush=True)


if __name__ == "__main__":
    main()
