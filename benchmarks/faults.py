"""Fault injection: does a search keep its promises when things go wrong?

Runs small `keras-nas run` searches (the `mlp` space on a 3-class table of
240 rows, random search) as a user would, in child processes, and injects:

- **kills**: `SIGKILL` at random moments of a search and of its resume, then
  a last `--resume` to the end, on `--kills / 2` fresh searches;
- **full disk**: the run and export folders on a small `tmpfs` that fills
  mid-search (needs root to mount it; skipped otherwise), then the disk is
  grown and the search resumed;
- **concurrent starts**: two identical commands started together on one run
  folder, new and with `--resume`;
- **killed worker**: `--workers 2` with one worker killed by `SIGKILL`
  while it trains;
- **corrupted files**: a finished run with a truncated `trial.json`, a
  garbage `oracle.json`, a truncated or a deleted checkpoint, each then
  resumed, shown and exported: each must succeed or be refused in one line.

For each fault it prints how many were injected, the trials lost (completed
before a fault and not completed, or completed with another score, after
it), the trials duplicated (more completed trials than the budget, or two
with one id), and the run folders left inconsistent: unreadable JSON, a
completed trial whose weights do not load, a temporary or staging file left
behind, a final command that did not end with exit 0, or a refusal that
printed a traceback or more than one line.

Run it from the repository root (about 10 minutes on 2 CPU cores):

    python benchmarks/faults.py

Options: `--kills N` (default 12), `--trials N` (default 5), `--epochs N`
(default 4), `--seed S` (default 0), `--directory DIR` (default a temporary
folder, deleted afterwards).
"""

import argparse
import glob
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

COMMAND = [sys.executable, "-m", "keras_nas_cli.main"]


def write_table(folder, seed):
    """A 240-row, 8-feature, 3-class `.npz`; returns its path."""
    rng = np.random.default_rng(seed)
    y = np.arange(240) % 3
    x = rng.normal(size=(240, 8)).astype("float32")
    x[:, :3] += 2.0 * np.eye(3, dtype="float32")[y]
    path = os.path.join(folder, "table.npz")
    np.savez(path, x=x, y=y)
    return path


class Bench:
    """The settings shared by every search of the benchmark."""

    def __init__(self, args, folder):
        self.args = args
        self.folder = folder
        self.dataset = write_table(folder, args.seed)
        self.rng = random.Random(args.seed)

    def run_args(self, root, name, *extra):
        """`keras-nas run` arguments for one small search under `root`."""
        return [
            "run", "--dataset", self.dataset, "--space", "mlp",
            "--max-trials", str(self.args.trials), "--epochs", str(self.args.epochs),
            "--seed", str(self.args.seed), "--no-final-fit", "--ensemble", "1",
            "--directory", os.path.join(root, "runs"), "--name", name,
            "--export-dir", os.path.join(root, "models"), "--quiet", *extra,
        ]


def start(args, env=None):
    """Starts `keras-nas ARGS` in its own process group."""
    return subprocess.Popen(
        COMMAND + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, env=env,
    )


def finish(args, env=None, timeout=900):
    """Runs `keras-nas ARGS` to its end; returns `(code, stdout, stderr)`."""
    proc = start(args, env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def clean_refusal(code, err):
    """A refusal as promised: exit 1 or 2, one line, no traceback."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return code in (1, 2) and len(lines) == 1 and "Traceback" not in err


def completed(run_dir):
    """`{trial_id: score}` of the completed trials in a run folder's files."""
    scores = {}
    for path in glob.glob(os.path.join(run_dir, "trial_*", "trial.json")):
        try:
            with open(path) as f:
                trial = json.load(f)
        except (OSError, ValueError):
            continue
        if trial.get("status") == "COMPLETED":
            scores[trial["trial_id"]] = trial.get("score")
    return scores


def inconsistencies(run_dir, export_dir, expect_export=True):
    """What is wrong with a run folder and its export, as a list of texts."""
    from keras_nas.training.checkpoint import CorruptCheckpointError
    from keras_nas.runs.run_directory import CorruptRunError
    from keras_nas.runs.run_directory import RunDirectory
    from keras_nas.runs.run_directory import check_run_folder

    problems = []
    try:
        check_run_folder(run_dir)
        run = RunDirectory(run_dir)
    except (CorruptRunError, ValueError) as error:
        return [f"unreadable: {error}"]
    for trial in run.trials:
        if trial.status != "COMPLETED":
            continue
        try:
            run.load_model(trial)
        except CorruptCheckpointError as error:
            problems.append(f"trial {trial.trial_id}: {error}")
    for parent in (run_dir, os.path.dirname(export_dir)):
        for path in glob.glob(os.path.join(parent, "**", "*"), recursive=True):
            name = os.path.basename(path)
            if ".tmp" in name or name.endswith("~"):
                problems.append(f"left behind: {path}")
        for name in os.listdir(parent):
            if name.startswith(".") and not name.endswith(".lock"):
                problems.append(f"left behind: {os.path.join(parent, name)}")
    if expect_export:
        for name in ("saved_model.pb", "metrics.json", "model.keras"):
            if not os.path.isfile(os.path.join(export_dir, name)):
                problems.append(f"export without {name}")
    return problems


def tally(before_faults, after, problems, expected):
    """Trials lost and duplicated, from the completed trials around faults."""
    lost = {
        trial_id for snapshot in before_faults for trial_id, score in snapshot.items()
        if after.get(trial_id) != score
    }
    duplicated = max(0, len(after) - expected)
    return {"lost": len(lost), "duplicated": duplicated,
            "inconsistent": int(bool(problems)), "problems": problems}


def kills(bench):
    """SIGKILL at random moments, each followed by a resume, on fresh runs.

    Each run is killed twice (once as it starts, once in its first resume),
    at a moment drawn uniformly from a quarter to all of a clean search's
    time, then resumed to its end; `--kills` kills in all.
    """
    root = os.path.join(bench.folder, "kills")
    args = bench.run_args(root, "clean")
    began = time.monotonic()
    code, _, err = finish(args)
    full = time.monotonic() - began
    if code != 0:
        raise SystemExit(f"the clean search failed: {err}")
    lost = duplicated = inconsistent = injected = attempts = 0
    problems = []
    for run in range(math.ceil(bench.args.kills / 2)):
        name = f"killed{run}"
        args = bench.run_args(root, name)
        run_dir = os.path.join(root, "runs", name)
        snapshots = []
        for _ in range(2):
            resume = ["--resume"] if os.path.isdir(run_dir) else []
            proc = start(args + resume)
            time.sleep(bench.rng.uniform(0.25, 1.0) * full)
            attempts += 1
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                injected += 1
            proc.communicate()
            snapshots.append(completed(run_dir))
        resume = ["--resume"] if os.path.isdir(run_dir) else []
        code, _, err = finish(args + resume)
        found = inconsistencies(run_dir, os.path.join(root, "models", name))
        if code != 0:
            found.append(f"final resume exited {code}: {err.strip()[-300:]}")
        after = completed(run_dir)
        if len(after) != bench.args.trials:
            found.append(f"{len(after)} of {bench.args.trials} trials completed")
        counts = tally(snapshots, after, found, bench.args.trials)
        lost += counts["lost"]
        duplicated += counts["duplicated"]
        inconsistent += counts["inconsistent"]
        problems += [f"{name}: {problem}" for problem in found]
    return {"fault": "kill -9 at random moments", "injected": injected,
            "lost": lost, "duplicated": duplicated, "inconsistent": inconsistent,
            "problems": problems,
            "note": f"{injected} kills in {attempts} tries (the others ended "
                    f"first) on {math.ceil(bench.args.kills / 2)} runs; clean "
                    f"search {full:.0f} s"}


def full_disk(bench):
    """A tmpfs that fills mid-search; then grown, and the search resumed."""
    mount = os.path.join(bench.folder, "small_disk")
    os.makedirs(mount)
    sizing = os.path.join(bench.folder, "sizing")
    finish(bench.run_args(sizing, "sized"))
    needed = sum(os.path.getsize(p) for p in glob.glob(
        os.path.join(sizing, "**", "*"), recursive=True) if os.path.isfile(p))
    size_kb = max(64, int(needed * 0.5) // 1024)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                       mount], capture_output=True).returncode != 0:
        return {"fault": "full disk", "injected": 0, "lost": 0, "duplicated": 0,
                "inconsistent": 0, "problems": [],
                "note": "skipped: mounting a tmpfs needs root"}
    try:
        args = bench.run_args(mount, "full")
        code, _, disk_error = finish(args)
        run_dir = os.path.join(mount, "runs", "full")
        before = completed(run_dir)
        problems = []
        if code == 0:
            problems.append("the search did not notice the full disk")
        elif not clean_refusal(code, disk_error):
            problems.append(f"full disk ended with exit {code}: {disk_error.strip()[-300:]}")
        subprocess.run(["mount", "-o", "remount,size=64m", mount], check=True)
        code, _, err = finish(args + ["--resume"])
        if code != 0:
            problems.append(f"resume exited {code}: {err.strip()[-300:]}")
        after = completed(run_dir)
        problems += inconsistencies(run_dir, os.path.join(mount, "models", "full"))
        result = tally([before], after, problems, bench.args.trials)
        result.update(fault="full disk (tmpfs)", injected=1,
                      note=f"{size_kb} kB disk; {len(before)} trials completed "
                           f"before it filled, {len(after)} after the resume; "
                           f"message: {disk_error.strip()}")
        return result
    finally:
        subprocess.run(["umount", mount], capture_output=True)


def concurrent(bench):
    """Two identical commands at once on one folder, new and resumed."""
    root = os.path.join(bench.folder, "concurrent")
    problems, injected, both = [], 0, 0
    for attempt, extra in enumerate(([], ["--resume"], ["--resume"])):
        args = bench.run_args(root, "shared", *extra)
        if extra:
            # Resume a run interrupted after its first trial.
            shutil.rmtree(root, ignore_errors=True)
            first = start(bench.run_args(root, "shared"))
            run_dir = os.path.join(root, "runs", "shared")
            while first.poll() is None and not completed(run_dir):
                time.sleep(0.2)
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate()
        pair = [start(args), start(args)]
        results = [(p.communicate(), p.returncode)[::-1] for p in pair]
        injected += 1
        codes = sorted(code for code, _ in results)
        if codes != [0, 2]:
            both += codes == [0, 0]
            problems.append(f"attempt {attempt}: exit codes {codes}")
        refused = [streams[1] for code, streams in results if code == 2]
        if refused and not clean_refusal(2, refused[0]):
            problems.append(f"attempt {attempt}: refusal was {refused[0][-300:]}")
        problems += inconsistencies(os.path.join(root, "runs", "shared"),
                                    os.path.join(root, "models", "shared"))
        if len(completed(os.path.join(root, "runs", "shared"))) != bench.args.trials:
            problems.append(f"attempt {attempt}: not every trial completed")
    result = tally([], completed(os.path.join(root, "runs", "shared")),
                   problems, bench.args.trials)
    result.update(fault="concurrent starts", injected=injected,
                  note=f"one of two ran each time: {injected - both} of {injected}")
    return result


def killed_worker(bench):
    """`--workers 2`, one worker killed while it trains."""
    root = os.path.join(bench.folder, "workers")
    args = bench.run_args(root, "distributed", "--workers", "2")
    args[args.index("--quiet")] = "--verbose"
    proc = start(args)
    run_dir = os.path.join(root, "runs", "distributed")
    victim, deadline = None, time.monotonic() + 300
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if glob.glob(os.path.join(run_dir, "trial_*")):
            victim = worker_pid(proc.pid, "tuner0")
    injected = 0
    if victim is not None:
        os.kill(victim, signal.SIGKILL)
        injected = 1
    out, err = proc.communicate(timeout=900)
    problems = inconsistencies(run_dir, os.path.join(root, "models", "distributed"))
    if proc.returncode != 0:
        problems.append(f"exit {proc.returncode}: {err.strip()[-300:]}")
    after = completed(run_dir)
    if len(after) != bench.args.trials:
        problems.append(f"{len(after)} of {bench.args.trials} trials completed")
    result = tally([], after, problems, bench.args.trials)
    restarts = sum("restarting" in line for line in (out + err).splitlines())
    result.update(fault="killed worker (--workers 2)", injected=injected,
                  note=f"{restarts} restart line(s); exit {proc.returncode}")
    return result


def worker_pid(launcher_pid, tuner_id):
    """The pid of the launcher's child process with `KERASTUNER_TUNER_ID`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher_pid and f"KERASTUNER_TUNER_ID={tuner_id}".encode() in environ:
            return int(pid)
    return None


def corrupted(bench):
    """A finished run's files damaged, then resumed, shown and exported."""
    root = os.path.join(bench.folder, "corrupt")
    finish(bench.run_args(root, "whole"))
    whole = os.path.join(root, "runs", "whole")
    damages = {
        "truncated trial.json": ("trial_0", "trial.json", "truncate"),
        "garbage oracle.json": ("", "oracle.json", "garbage"),
        "truncated checkpoint": ("trial_0", "checkpoint.weights.h5", "truncate"),
        "deleted checkpoint": ("trial_0", "checkpoint.weights.h5", "delete"),
    }
    problems, clean = [], 0
    for label, (trial_glob, name, how) in damages.items():
        run_dir = os.path.join(root, "runs", label.replace(" ", "_"))
        shutil.copytree(whole, run_dir)
        folder = (sorted(glob.glob(os.path.join(run_dir, trial_glob + "*")))[0]
                  if trial_glob else run_dir)
        path = os.path.join(folder, name)
        if how == "delete":
            os.remove(path)
        elif how == "truncate":
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
        else:
            with open(path, "wb") as f:
                f.write(b"\x00garbage{")
        outcomes = [
            finish(bench.run_args(root, os.path.basename(run_dir), "--resume")),
            finish(["show", run_dir]),
            finish(["export", run_dir, "--out", os.path.join(root, "out", label)]),
        ]
        for code, _, err in outcomes:
            if code == 0:
                continue
            if clean_refusal(code, err):
                clean += 1
            else:
                problems.append(f"{label}: exit {code}, {err.strip()[-300:]}")
    result = {"fault": "corrupted files", "injected": len(damages), "lost": 0,
              "duplicated": 0, "inconsistent": len({p.split(':')[0] for p in problems}),
              "problems": problems,
              "note": f"{clean} refusals in one line, {len(problems)} tracebacks"}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", default=None)
    parser.add_argument("--only", default=None,
                        help="Comma-separated faults: kills, disk, concurrent, "
                             "worker, corrupt.")
    args = parser.parse_args()
    folder = args.directory or tempfile.mkdtemp(prefix="keras_nas_faults_")
    os.makedirs(folder, exist_ok=True)
    bench = Bench(args, folder)
    faults = {"kills": kills, "disk": full_disk, "concurrent": concurrent,
              "worker": killed_worker, "corrupt": corrupted}
    chosen = args.only.split(",") if args.only else list(faults)
    began = time.monotonic()
    rows = []
    try:
        for name in chosen:
            print(f"... {name}", flush=True)
            rows.append(faults[name](bench))
    finally:
        if args.directory is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nFault injection: mlp, {args.trials} trials x {args.epochs} epochs, "
          f"seed {args.seed}, {time.monotonic() - began:.0f} s")
    print(f"{'fault':<30} {'injected':>8} {'lost':>5} {'duplicated':>10} "
          f"{'inconsistent':>12}  note")
    for row in rows:
        print(f"{row['fault']:<30} {row['injected']:>8} {row['lost']:>5} "
              f"{row['duplicated']:>10} {row['inconsistent']:>12}  {row['note']}")
    for row in rows:
        for problem in row["problems"]:
            print(f"  {row['fault']}: {problem}")
    totals = [sum(row[key] for row in rows) for key in ("injected", "lost",
                                                          "duplicated", "inconsistent")]
    print(f"{'total':<30} {totals[0]:>8} {totals[1]:>5} {totals[2]:>10} {totals[3]:>12}")


if __name__ == "__main__":
    main()
