#!/usr/bin/env python3
"""Accuracy matrix for issue 5: trains with default options on the repo's samples for several
seeds and horizons and prints model vs baseline MASE on the test split (70/15/15).

Usage: python3 scripts/accuracy_matrix.py [--seeds 1,2,3] [--only co2] [extra train flags...]
Needs a Release build: dotnet build -c Release
"""
import json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "src/LstmCluster.Cli/bin/Release/net10.0/lstmcluster")

# (label, data args, horizons, rule)
CASES = [
    ("MSFT Close", ["--data", "samples/MSFT.csv", "--target", "Close"], [1, 5], "naive"),
    *[(f"vega {s}", ["--data", "samples/vega_stocks.csv", "--target", "price", "--symbol", s], [1], "naive")
      for s in ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"]],
    ("co2", ["--data", "samples/co2.csv", "--target", "value", "--season", "12", "--lookback", "24"], [1, 5], "beat"),
    ("AirPassengers", ["--data", "samples/AirPassengers.csv", "--target", "value", "--season", "12", "--lookback", "24"], [1, 5], "beat/within"),
    ("sunspot_year", ["--data", "samples/sunspot_year.csv", "--target", "value", "--season", "11", "--lookback", "22"], [1, 5], "beat/within"),
]


def verdict(rule, h, m, naive, snaive, best):
    if rule == "naive":
        return m <= 1.02 * naive, f"<= 1.02 x naive ({1.02 * naive:.3f})"
    if rule == "beat" or (rule == "beat/within" and h == 1):
        return m < naive and m < snaive, "beats naive and seasonal naive"
    return m <= 1.10 * best, f"within 10% of best baseline ({1.10 * best:.3f})"


def main():
    args = sys.argv[1:]
    seeds, only = [1, 2, 3], None
    if "--seeds" in args:
        i = args.index("--seeds"); seeds = [int(s) for s in args[i + 1].split(",")]; del args[i:i + 2]
    if "--only" in args:
        i = args.index("--only"); only = args[i + 1]; del args[i:i + 2]
    rows, failures = [], 0
    print(f"{'dataset':16} {'h':>2} {'seed':>4} {'model':>7} {'naive':>7} {'snaive':>7} {'drift':>7} {'mean':>7}  ok  rule")
    for label, data, horizons, rule in CASES:
        if only and only.lower() not in label.lower():
            continue
        for h in horizons:
            for seed in seeds:
                with tempfile.TemporaryDirectory() as out:
                    cmd = [CLI, "train", *data, "--horizon", str(h), "--seed", str(seed), "--out", out, *args]
                    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                    if p.returncode != 0:
                        print(f"{label:16} {h:>2} {seed:>4} FAILED: {p.stderr.strip()}"); failures += 1; continue
                    m = json.load(open(os.path.join(out, "metrics.json")))
                mase = m["model"]["mase"]; b = {k: v["mase"] for k, v in m["baselines"].items()}
                best = min(b.values())
                ok, why = verdict(rule, h, mase, b["naive"], b["seasonal_naive"], best)
                failures += 0 if ok else 1
                print(f"{label:16} {h:>2} {seed:>4} {mase:7.3f} {b['naive']:7.3f} {b['seasonal_naive']:7.3f} {b['drift']:7.3f} {b['mean']:7.3f}  {'yes' if ok else 'NO ':3} {why}", flush=True)
    print(f"{failures} case(s) miss the target")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
