"""The Ray executor against the local one on one sweep: the same run folders, and Ray's overhead (issue 14).

Runs ``tms robustness EXPERIMENTS --grid ...`` twice as whole processes, into two fresh folders: once with the
local executor, once with ``--executor ray`` on a Ray head started on loopback (``ray start --head
--node-ip-address 127.0.0.1``), then compares every run folder file by file (tensors bit for bit, the per-instance
table, the training log, the config) and the claims table, and prints the wall times. Optional: ``--kill-worker``
kills one Ray worker mid-task (``kill -9``) and checks the sweep still completes with the same numbers;
``--kill-driver`` stops the Ray driver mid-sweep, runs it again and checks that finished folders were not redone.

    python benchmarks/bench_ray.py                       # 24 quick variants of intro and section2 (~3 min)
    python benchmarks/bench_ray.py --kill-worker --kill-driver
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safetensors.torch import load_file

GRID = ["lrx=0.5,1,2", "seed=0,1,2,3,4,5,6,7"]  # 24 variants


def numbers(folder: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if "/figures/" in f"/{rel}" or "/tables/" in f"/{rel}":
            continue
        if path.suffix == ".safetensors":
            out[rel] = {k: v.numpy().tobytes() for k, v in load_file(path).items()}
        elif path.name in ("instances.csv", "train_log.csv"):
            out[rel] = path.read_text()
        elif path.name == "config.json":
            out[rel] = json.loads(path.read_text())["config"]
    return out


def claims(folder: Path) -> list[tuple[str, str, str, str]]:
    with open(folder / "robustness.csv", newline="") as f:
        return [(r["variant"], r["claim"], r["measured"], r["passed"]) for r in csv.DictReader(f)]


def sweep(out: Path, experiments: list[str], quick: bool, ray_address: str | None) -> subprocess.Popen:
    cmd = ["tms", "robustness", *experiments, "--grid", *GRID, "--out", str(out), "--no-progress"]
    if quick:
        cmd.append("--quick")
    if ray_address:
        cmd += ["--executor", "ray", "--ray-address", ray_address]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def timed(out: Path, experiments: list[str], quick: bool, ray_address: str | None = None) -> float:
    start = time.perf_counter()
    proc = sweep(out, experiments, quick, ray_address)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}): {err[-2000:]}")
    return time.perf_counter() - start


def models(folder: Path) -> dict[str, float]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime for p in folder.rglob("model.safetensors")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", default=["intro", "section2"])
    parser.add_argument("--full", action="store_true", help="the paper recipe instead of --quick runs")
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--kill-worker", action="store_true")
    parser.add_argument("--kill-driver", action="store_true")
    args = parser.parse_args()
    quick = not args.full
    address = f"127.0.0.1:{args.port}"
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M}  {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; sweep: {' '.join(args.experiments)} --grid {' '.join(GRID)}"
          f"{' --quick' if quick else ''}", flush=True)
    subprocess.run(["ray", "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(args.port),
                    "--num-cpus", str(os.cpu_count()), "--include-dashboard=false"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tmp = Path(tempfile.mkdtemp(prefix="tms-bench-ray-"))
    try:
        local_s = timed(tmp / "local", args.experiments, quick)
        ray_s = timed(tmp / "ray", args.experiments, quick, address)
        same = numbers(tmp / "local") == numbers(tmp / "ray")
        runs = len(list((tmp / "local").rglob("model.safetensors")))
        print(f"local executor {local_s:.1f} s, ray executor {ray_s:.1f} s ({ray_s / local_s:.2f}x, "
              f"{ray_s - local_s:+.1f} s); {runs} run folders; identical folders: {same}; identical claims: "
              f"{claims(tmp / 'local') == claims(tmp / 'ray')}", flush=True)
        if args.kill_worker:
            out = tmp / "ray-killed-worker"
            proc = sweep(out, args.experiments, quick, address)
            killed = None
            for _ in range(600):  # kill the first worker seen running a task
                time.sleep(0.1)
                found = subprocess.run(["pgrep", "-f", "ray::run_task"], capture_output=True, text=True).stdout.split()
                if found:
                    killed = int(found[0])
                    os.kill(killed, signal.SIGKILL)
                    break
            _, err = proc.communicate()
            print(f"killed worker {killed} mid-task: sweep exit {proc.returncode}; identical folders to the local "
                  f"executor's: {numbers(out) == numbers(tmp / 'local')}", flush=True)
        if args.kill_driver:
            out = tmp / "ray-killed-driver"
            proc = sweep(out, args.experiments, quick, address)
            for _ in range(6000):  # stop the driver once a third of the folders are written
                time.sleep(0.1)
                if len(models(out)) >= runs // 3:
                    break
            proc.send_signal(signal.SIGINT)
            proc.communicate()
            before = models(out)
            time.sleep(1.0)
            rerun_s = timed(out, args.experiments, quick, address)
            after = models(out)
            redone = [k for k, t in before.items() if after.get(k) != t]
            print(f"driver stopped with {len(before)} of {runs} folders written; the rerun ({rerun_s:.1f} s) redid "
                  f"{len(redone)} of them and wrote the other {len(after) - len(before)}; identical folders to the "
                  f"local executor's: {numbers(out) == numbers(tmp / 'local')}", flush=True)
    finally:
        subprocess.run(["ray", "stop", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
