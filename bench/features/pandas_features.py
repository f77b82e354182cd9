#!/usr/bin/env python3
"""The pandas side of the `verge features` benchmark.

    pandas_features.py csv IN.csv OUT.csv WINDOW
        The whole job, like `verge features IN.csv --window WINDOW > OUT.csv`:
        read_csv, fill missing values with the median, rolling mean, population
        std and energy (window * rolling sum of squares, which equals
        sum |FFT|^2 by Parseval), drop the incomplete first windows, to_csv.
        Prints the elapsed seconds.

    pandas_features.py memory POINTS WINDOW RUNS
        Features only, from a Series in memory: fillna(median) and the three
        rolling features. Prints the median points per second of RUNS runs.
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd


def features(values, window):
    filled = values.fillna(values.median())
    rolling = filled.rolling(window)
    frame = pd.DataFrame({
        "mean": rolling.mean(),
        "std": rolling.std(ddof=0),
        "energy": (filled * filled).rolling(window).sum() * window,
    })
    return frame.iloc[window - 1:]


def run_csv(source, target, window):
    start = time.perf_counter()
    frame = pd.read_csv(source)
    features(frame["value"], window).to_csv(target, index=False)
    print(f"{time.perf_counter() - start:.3f}")


def run_memory(points, window, runs):
    rng = np.random.default_rng(1)
    i = np.arange(points)
    values = 20.0 + 5.0 * np.sin(i / 100.0) + rng.standard_normal(points)
    values[rng.random(points) < 0.05] = np.nan
    series = pd.Series(values)
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        features(series, window)
        rates.append(points / (time.perf_counter() - start))
    print(f"{statistics.median(rates):.0f}")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "csv":
        run_csv(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "memory":
        run_memory(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
