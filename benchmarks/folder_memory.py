"""Peak memory of `keras-nas run` on image folders of 2,000 and 20,000 files (issue 26).

Writes two folders of PNG images of `--size` pixels a side in 10 class
folders (the CIFAR-10 development images of `../shared/data`, each reused
with a different random shift of its pixels, so every file differs), then
runs the same one-trial search on each in a child process:

    keras-nas run --dataset FOLDER --max-trials 1 --epochs 1 \
        --no-final-fit --ensemble 1 --space convnet

once with the default memory budget (the decoded images fit in memory)
and once with `--memory-budget` below the decoded size (the images are
decoded once into `--cache-dir` and read from there a batch at a time),
and prints each child's peak resident memory (`ru_maxrss`), its wall time
and the growth of the peak from the small folder to the large one,
against the target: within 400 MB.

Run it from the repository root:

    python benchmarks/folder_memory.py

Options: `--small N` (default 2000), `--large N` (default 20000), `--size S`
(default 32), `--budget GiB` (the small budget; default 0.002), `--images NPZ` (the images to reuse; default the CIFAR-10
development training file), `--directory DIR` (default a temporary folder,
deleted afterwards). The defaults take about 20 minutes on 2 CPU cores.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from bench_utils import machine_line

_IMAGES = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "cifar10_dev_train.npz"
)
TARGET_MB = 400


def write_folder(root, count, images, labels, size, seed):
    """Writes `count` PNG files of `size` pixels a side in 10 class folders."""
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        os.makedirs(os.path.join(root, f"class_{label}"), exist_ok=True)
    for i in range(count):
        k = i % len(images)
        shift = rng.integers(-8, 9, size=3)
        image = np.clip(images[k].astype("int16") + shift, 0, 255).astype("uint8")
        picture = Image.fromarray(image)
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.BILINEAR)
        picture.save(os.path.join(root, f"class_{labels[k]}", f"{i:06d}.png"))


def peak_of_run(folder, workdir, budget=None):
    """Runs the one-trial search on `folder`; its peak RSS (MB) and seconds.

    `budget` (GiB) is passed as `--memory-budget`, with a `--cache-dir` in
    `workdir`; `None` keeps the default budget.
    """
    options = [] if budget is None else [
        "--memory-budget", str(budget), "--cache-dir", os.path.join(workdir, "cache")
    ]
    command = [
        sys.executable, "-c", "from keras_nas_cli.main import main; main()",
        "run", "--dataset", folder, "--max-trials", "1", "--epochs", "1",
        "--no-final-fit", "--ensemble", "1", "--space", "convnet",
        "--directory", os.path.join(workdir, "runs"),
        "--export-dir", os.path.join(workdir, "models"), "--overwrite", *options,
    ]
    # ru_maxrss of the children is the largest of all children so far, so
    # each run gets its own measuring process.
    probe = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN)"
        ".ru_maxrss, time.perf_counter() - start); "
        "sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:] "
        "if done.returncode else '')"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", probe, *command],
                          capture_output=True, text=True, env=env)
    code, peak_kb, seconds = done.stdout.split()
    if code != "0":
        raise SystemExit(f"keras-nas run failed on {folder}:\n{done.stderr}")
    return int(peak_kb) / 1024, float(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--budget", type=float, default=0.002)
    parser.add_argument("--images", default=_IMAGES)
    parser.add_argument("--directory", default=None)
    args = parser.parse_args()
    with np.load(args.images) as data:
        images, labels = data["x"], data["y"]
    print(machine_line())
    with tempfile.TemporaryDirectory(dir=args.directory) as workdir:
        peaks = {}
        for count in (args.small, args.large):
            folder = os.path.join(workdir, f"images_{count}")
            start = time.perf_counter()
            write_folder(folder, count, images, labels, args.size, seed=count)
            written = time.perf_counter() - start
            decoded = count * args.size * args.size * 3 / 2**20
            print(f"{count:>7,} images of {args.size}x{args.size} ({decoded:,.0f} "
                  f"MB decoded), folder written in {written:,.0f} s")
            for budget in (None, args.budget):
                peak, seconds = peak_of_run(folder, workdir, budget)
                peaks[count, budget] = peak
                label = ("default budget (in memory)" if budget is None else
                         f"--memory-budget {budget} GiB (on disk)")
                print(f"    {label}: peak RSS {peak:,.0f} MB, run {seconds:,.0f} s")
        for budget in (None, args.budget):
            growth = peaks[args.large, budget] - peaks[args.small, budget]
            verdict = "within" if growth <= TARGET_MB else "ABOVE"
            label = "default budget" if budget is None else f"{budget} GiB budget"
            print(f"Peak growth from {args.small:,} to {args.large:,} images, "
                  f"{label}: {growth:,.0f} MB ({verdict} the {TARGET_MB} MB target)")

if __name__ == "__main__":
    main()
