"""CLI start-up benchmark: ``ckptio ls --json`` against TensorFlow's equivalent, end to end.

    python benchmarks/bench_cli.py [--keys 20000] [--reps 11] [--tf-reps 5] [--data-dir DIR]
                                   [--json out.json]

A checkpoint of --keys small tensors (named like ``model/layer_0123/conv_4/kernel``) is written
once with ``ckptio.save`` (no TensorFlow needed) and cached in --data-dir. Then each command
runs as a fresh process, process start to exit, with its output read through a pipe:

* ``ckptio ls --json CKPT`` (the installed ``ckptio`` script, else ``python -m ckptio``);
* TF: ``python -c "import json, tensorflow as tf; r = tf.train.load_checkpoint(p);
  print(json.dumps(r.get_variable_to_shape_map()))"``;

and, for reference, ``python -c pass`` (the interpreter alone) and ``python -c "import numpy"``,
the floor of any numpy-based command: ckptio's reader needs numpy, so TF's time over this floor
is the best ratio a numpy-based CLI can reach on this machine.

Bytecode is cached (under --data-dir) as in a normal installation, even where the environment
sets PYTHONDONTWRITEBYTECODE. Repetitions alternate between ckptio and TF (after one untimed
warm-up of each) so that load from other processes hits both alike; each row is the median wall
time, with the median CPU time (user + system, of that process) next to it, which other
processes disturb less. Both outputs are checked to describe the same shapes. The target is a
ratio of at least 30x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 30.0
TF_SCRIPT = (
    "import json, sys, tensorflow as tf; r = tf.train.load_checkpoint(sys.argv[1]); "
    "print(json.dumps({k: list(v) for k, v in r.get_variable_to_shape_map().items()}))"
)


def ensure_checkpoint(data_dir: Path, keys: int) -> str:
    """The prefix of a cached checkpoint of `keys` small float32 tensors (written if missing)."""
    import ckptio
    import numpy as np

    prefix = data_dir / f"cli-keys-{keys}" / "model.ckpt-1"
    if not Path(str(prefix) + ".index").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)

        def tensors():
            for i in range(keys):
                name = f"model/layer_{i // 8:04d}/conv_{i % 8}/" + ("kernel" if i % 2 else "bias")
                shape = (3, 3, 4, i % 7 + 1) if i % 2 else (i % 7 + 1,)
                yield name, np.full(shape, i, dtype=np.float32)

        ckptio.save(str(prefix), tensors())
    return str(prefix)


def ckptio_command() -> list[str]:
    script = Path(sys.executable).with_name("ckptio")
    if script.exists():
        return [str(script)]
    found = shutil.which("ckptio")
    # A shim (pyenv) adds its own start-up cost: prefer `python -m ckptio` over one.
    if found and "shims" not in found:
        return [found]
    return [sys.executable, "-m", "ckptio"]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one run, from process start to exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]}... failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, out.decode()


def measure(
    commands: dict[str, list[str]], reps: dict[str, int], env: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Median wall and CPU time of each command, repetitions interleaved across commands."""
    import resource

    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    outputs: dict[str, str] = {}
    for name, argv in commands.items():  # warm-up: page cache, .pyc files
        outputs[name] = run_once(argv, env)[1]
    for i in range(max(reps.values())):
        for name, argv in commands.items():
            if i >= reps[name]:
                continue
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, _ = run_once(argv, env)  # (the process is reaped: its CPU time is counted)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            samples[name].append((wall, cpu))
    result = {
        name: {
            "wall": statistics.median(w for w, _ in runs),
            "cpu": statistics.median(c for _, c in runs),
            "reps": len(runs),
        }
        for name, runs in samples.items()
    }
    result["_outputs"] = outputs  # type: ignore[assignment]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=11, help="repetitions of the fast commands")
    parser.add_argument("--tf-reps", type=int, default=5, help="repetitions of the TF command")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parent.parent / "bench-data"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    prefix = ensure_checkpoint(args.data_dir, args.keys)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONSTARTUP", None)
    # Bytecode is cached, as in any installed package (pip compiles it at install time): an
    # environment that forbids writing it would recompile ckptio's modules (an editable install)
    # at every start. The cache goes to --data-dir, not into the source tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(args.data_dir / "pycache")
    commands = {
        "ckptio ls --json": [*ckptio_command(), "ls", "--json", prefix],
        "TF load_checkpoint + shape map": [sys.executable, "-c", TF_SCRIPT, prefix],
        "python -c pass": [sys.executable, "-c", "pass"],
        'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
    }
    reps = {name: args.reps for name in commands}
    reps["TF load_checkpoint + shape map"] = args.tf_reps
    load_before = os.getloadavg()[0]
    results = measure(commands, reps, env)
    load_after = os.getloadavg()[0]

    outputs = results.pop("_outputs")
    listed = {t["name"]: t["shape"] for t in json.loads(outputs["ckptio ls --json"])["tensors"]}
    if listed != json.loads(outputs["TF load_checkpoint + shape map"]):
        raise SystemExit("ckptio and TF disagree about the checkpoint's shapes")

    ours, tf = results["ckptio ls --json"], results["TF load_checkpoint + shape map"]
    floor = results['python -c "import numpy"']
    print(f"checkpoint: {args.keys} keys ({prefix})")
    print(f"ckptio command: {' '.join(commands['ckptio ls --json'][:-3])}")
    print(f"{'command':34s} {'wall (median)':>14s} {'CPU (median)':>13s}  reps")
    for name, row in results.items():
        print(f"{name:34s} {row['wall'] * 1e3:11.0f} ms {row['cpu'] * 1e3:10.0f} ms  {row['reps']}")
    ratio = tf["wall"] / ours["wall"]
    cpu_ratio = tf["cpu"] / ours["cpu"] if ours["cpu"] else float("inf")
    ceiling = tf["wall"] / floor["wall"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"ratio TF / ckptio, wall: {ratio:.1f}x  (CPU: {cpu_ratio:.1f}x)  "
        f"target >= {TARGET:.0f}x: {verdict}"
    )
    print(f"ceiling for a numpy-based command (TF / python+numpy import): {ceiling:.1f}x")
    print(f"load average: {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)")
    if args.json:
        report = {
            "keys": args.keys,
            "results": results,
            "ratio_wall": ratio,
            "ratio_cpu": cpu_ratio,
            "ceiling_wall": ceiling,
            "target": TARGET,
            "load_average": [load_before, load_after],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
