#!/usr/bin/env python3
"""Runs the `verge features` benchmark and prints a Markdown report.

Called by run.sh after the build:

    run_bench.py VERGE BENCH_FEATURES WORK_DIR [PYTHON_WITH_PANDAS]

VERGE is the verge binary, BENCH_FEATURES the compiled bench_features.c,
WORK_DIR a folder for the CSV files (on the file system to measure). With
PYTHON_WITH_PANDAS (an interpreter that can import pandas), pandas runs the
same jobs in the same invocation and the report gives the ratios.
Environment: POINTS (default 10000000), RUNS (verge runs, default 5),
PANDAS_RUNS (default 3).
"""
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_timed(command, output_path, output_is_stdout):
    """Runs command; returns (wall, user, system) seconds.

    The command writes output_path, as its standard output or by itself.
    The output of the previous run is deleted and dirty pages written back
    first, so each run starts from the same state and the file system can
    reuse the freed pages.
    """
    if os.path.exists(output_path):
        os.remove(output_path)
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(output_path if output_is_stdout else os.devnull, "wb") as out:
        subprocess.run(command, stdout=out, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def machine():
    model, cores = "unknown", os.cpu_count()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {cores} cores, {platform.system()} {platform.release()}"


def compare_outputs(a_path, b_path, python):
    """Returns (rows_a, rows_b, max relative difference) of two feature CSV files."""
    script = (
        "import sys, numpy as np, pandas as pd\n"
        "a = pd.read_csv(sys.argv[1]); b = pd.read_csv(sys.argv[2])\n"
        "d = 0.0\n"
        "for c in a.columns:\n"
        "    x = a[c].to_numpy(); y = b[c].to_numpy()\n"
        "    scale = np.maximum(np.abs(y), 1e-300)\n"
        "    d = max(d, float(np.nanmax(np.abs(x - y) / scale)))\n"
        "print(len(a), len(b), d)\n"
    )
    out = subprocess.run([python, "-c", script, a_path, b_path], capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0]), int(out[1]), float(out[2])


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    verge, bench, work = sys.argv[1:4]
    python = sys.argv[4] if len(sys.argv) == 5 else None
    points = int(os.environ.get("POINTS", "10000000"))
    runs = int(os.environ.get("RUNS", "5"))
    pandas_runs = int(os.environ.get("PANDAS_RUNS", "3"))

    print("## verge features\n")
    print(f"- machine: {machine()}")
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"- points: {points}, verge runs: {runs}, pandas runs: {pandas_runs}; "
          "medians, all measured in this one invocation, verge and pandas runs interleaved; "
          "`sync` before each timed command")
    print(f"- files in: {work}\n")

    print("### Features from memory (single thread)\n")
    print("`" + " ".join([os.path.basename(bench), str(points), str(runs)]) + "`\n")
    load = os.getloadavg()
    print(f"Load average before the runs: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}\n")
    print("```")
    print(subprocess.run([bench, str(points), str(runs)], capture_output=True, text=True,
                         check=True).stdout.rstrip())
    print("```\n")
    if python is not None:
        print("pandas, same series shape (level + sine + N(0,1), 5% NaN), "
              "`fillna(median)` + rolling mean, std(ddof=0), energy:\n")
        print("| window | pandas M points/s |")
        print("|---|---|")
        for window in (10, 256):
            rate = subprocess.run([python, os.path.join(HERE, "pandas_features.py"), "memory",
                                   str(points), str(window), str(runs)], capture_output=True,
                                  text=True, check=True).stdout.strip()
            print(f"| {window} | {float(rate) / 1e6:.1f} |")
        print()

    csv = os.path.join(work, "sensors.csv")
    subprocess.run([bench, "--write-csv", csv, str(points)], check=True)
    size = os.path.getsize(csv) / 1e6
    print("### Whole command, CSV file to CSV file\n")
    print(f"Input: {points} rows `t,value`, 5% of the values empty, {size:.0f} MB.\n")
    command = [verge, "features", csv, "--window", "10"]
    print("`verge features sensors.csv --window 10 > features.csv` against "
          "`pandas_features.py csv sensors.csv features.csv 10` (read_csv, fillna(median), "
          "rolling, to_csv; whole process time, interpreter start included)\n")

    verge_out = os.path.join(work, "verge.csv")
    pandas_out = os.path.join(work, "pandas.csv")
    outputs = [verge_out, pandas_out]
    pandas_command = None
    if python is not None:
        pandas_command = [python, os.path.join(HERE, "pandas_features.py"), "csv", csv, pandas_out,
                          "10"]
    # Interleaved (verge, pandas, verge, ...), so that load from other jobs on the machine
    # falls on both tools alike.
    verge_runs = []
    pandas_runs_measured = []
    for i in range(max(runs, pandas_runs if pandas_command else 0)):
        if i < runs:
            verge_runs.append(run_timed(command, verge_out, True))
        if pandas_command and i < pandas_runs:
            pandas_runs_measured.append(run_timed(pandas_command, pandas_out, False))

    def row(name, measured):
        walls = [m[0] for m in measured]
        wall = statistics.median(walls)
        user = statistics.median(m[1] for m in measured)
        system = statistics.median(m[2] for m in measured)
        print(f"| {name} | {wall:.2f} | {', '.join(f'{t:.2f}' for t in walls)} | {user:.2f} | "
              f"{system:.2f} | {points / wall / 1e6:.2f} |")
        return wall, user

    print("| tool | median wall s | wall per run (s) | median user s | median system s | "
          "M rows/s |")
    print("|---|---|---|---|---|---|")
    verge_wall, verge_user = row("verge", verge_runs)
    if pandas_runs_measured:
        pandas_wall, pandas_user = row("pandas", pandas_runs_measured)
        print(f"\nRatio of median wall times: verge is {pandas_wall / verge_wall:.1f}x faster "
              f"(user CPU time: {pandas_user / verge_user:.1f}x).")
        rows_a, rows_b, diff = compare_outputs(verge_out, pandas_out, python)
        print(f"Outputs: {rows_a} and {rows_b} rows, largest relative difference {diff:.2g} "
              "(pandas' rolling sums carry their own rounding).")
    else:
        print("\npandas is not installed: no comparison.")
    for path in [csv] + outputs:
        if os.path.exists(path):
            os.remove(path)


if __name__ == "__main__":
    main()
