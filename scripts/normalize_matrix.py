#!/usr/bin/env python3
"""Issue 13's measurement: `train` with default options (--normalize auto, --epochs auto) on real series for
several seeds; per run every normalization candidate's validation and test MASE, the one chosen on validation,
its test MASE against the best baseline and how training stopped. With --quantiles among the extra flags
(e.g. --quantiles 0.1,0.5,0.9), also the test-split coverage of each central interval (q0.1-q0.9: nominal 80 %)
and its summary per case.

Usage: python3 scripts/normalize_matrix.py [--data-dir samples] [--seeds 0,1,2,3,4] [--only nottem]
           [--json out.json] [extra train flags...]
Needs a Release build (or LSTMCLUSTER_CLI=path of the lstmcluster executable). Prints one line per run and a summary per case (mean and range over seeds).
"""
import json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("LSTMCLUSTER_CLI") or os.path.join(ROOT, "src/LstmCluster.Cli/bin/Release/net10.0/lstmcluster")

# (label, file, train flags)
CASES = [
    ("nottem h=1", "nottem.csv", ["--target", "value", "--season", "12", "--lookback", "24", "--horizon", "1"]),
    ("nottem h=6", "nottem.csv", ["--target", "value", "--season", "12", "--lookback", "24", "--horizon", "6"]),
    ("co2 h=1", "co2.csv", ["--target", "value", "--season", "12", "--lookback", "24"]),
    ("AirPassengers h=1", "AirPassengers.csv", ["--target", "value", "--season", "12", "--lookback", "24"]),
    ("MSFT Close h=1", "MSFT.csv", ["--target", "Close"]),
    ("gold h=1", "gold.csv", ["--target", "value"]),
    # Half-hourly electricity demand: not in ../shared/data; `bash scripts/taylor_csv.sh DIR` writes it (R's forecast).
    ("taylor h=48", "taylor.csv", ["--target", "value", "--season", "48", "--lookback", "96", "--horizon", "48"]),
]


def main():
    args = sys.argv[1:]
    seeds, only, data_dir, out_json = [0, 1, 2, 3, 4], None, os.path.join(ROOT, "samples"), None
    for flag in ["--seeds", "--only", "--data-dir", "--json"]:
        if flag in args:
            i = args.index(flag); value = args[i + 1]; del args[i:i + 2]
            if flag == "--seeds": seeds = [int(s) for s in value.split(",")]
            elif flag == "--only": only = value
            elif flag == "--data-dir": data_dir = value
            else: out_json = value
    results = []
    for label, file, flags in CASES:
        if only and only.lower() not in label.lower():
            continue
        path = os.path.join(data_dir, file)
        if not os.path.exists(path):
            print(f"{label}: {path} missing, skipped"); continue
        for seed in seeds:
            with tempfile.TemporaryDirectory() as out:
                cmd = [CLI, "train", "--data", path, *flags, "--seed", str(seed), "--out", out, *args]
                p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"{label} seed {seed} FAILED: {p.stderr.strip()[:300]}", flush=True); continue
                m = json.load(open(os.path.join(out, "metrics.json")))
            b = {k: v["mase"] for k, v in m["baselines"].items()}
            best = min(b, key=b.get)
            norm = m.get("normalization", {})
            cands = {c["normalize"]: (c["validation"]["mase"], c["test"]["mase"], c["best_epoch"], c["epochs_run"])
                     for c in norm.get("candidates", [])}
            row = {"case": label, "seed": seed, "chosen": norm.get("chosen"), "model": m["model"]["mase"],
                   "best_baseline": best, "best_baseline_mase": b[best], "naive": b["naive"], "candidates": cands,
                   "stop": m["training"].get("stop_reason"),
                   "coverage": {f"{i['lower']:g}-{i['upper']:g}": (i["nominal_coverage"], i["coverage"], raw["coverage"])
                                for i, raw in zip((m.get("quantiles") or {}).get("intervals", []),
                                                  ((m.get("quantiles") or {}).get("uncalibrated") or m.get("quantiles") or {}).get("intervals", []))}}
            results.append(row)
            cs = "  ".join(f"{k}: val {v[0]:.3f} test {v[1]:.3f} ({v[2]}/{v[3]} ep)" for k, v in cands.items())
            # A candidate left out trained nothing: it is the model of the one named (metrics.json: normalization.left_out).
            cs += "".join(f"  {l['normalize']}: = {l['same_as']}" for l in norm.get("left_out", []))
            print(f"{label:18} seed {seed}  chosen {row['chosen']:15} test {row['model']:.3f}  {best} {b[best]:.3f}  "
                  f"ratio {row['model'] / b[best]:.3f}  [{cs}]"
                  + "".join(f"  cover {k}: {v[1] * 100:.1f} % (uncalibrated {v[2] * 100:.1f} %, nominal {v[0] * 100:.0f} %)" for k, v in row["coverage"].items()), flush=True)
    print()
    print(f"{'case':18} {'chosen (seeds)':34} {'test MASE mean [min, max]':28} {'best baseline':22} {'ratio max':>9}")
    for label, _, _ in CASES:
        rows = [r for r in results if r["case"] == label]
        if not rows: continue
        ms = [r["model"] for r in rows]; ratios = [r["model"] / r["best_baseline_mase"] for r in rows]
        chosen = {}
        for r in rows: chosen[r["chosen"]] = chosen.get(r["chosen"], 0) + 1
        print(f"{label:18} {', '.join(f'{k} {v}' for k, v in chosen.items()):34} "
              f"{sum(ms) / len(ms):.3f} [{min(ms):.3f}, {max(ms):.3f}]{'':8} {rows[0]['best_baseline']} {rows[0]['best_baseline_mase']:.3f}{'':4} {max(ratios):9.3f}")
    if any(r["coverage"] for r in results):
        print()
        print(f"{'case':18} {'interval':10} {'nominal':>7}  {'test coverage mean [min, max] (per seed)':52} uncalibrated mean [min, max]")
        for label, _, _ in CASES:
            rows = [r for r in results if r["case"] == label and r["coverage"]]
            for key in (rows[0]["coverage"] if rows else {}):
                cov = [r["coverage"][key][1] * 100 for r in rows]
                raw = [r["coverage"][key][2] * 100 for r in rows]
                print(f"{label:18} {key:10} {rows[0]['coverage'][key][0] * 100:6.0f} %  "
                      f"{sum(cov) / len(cov):5.1f} % [{min(cov):.1f}, {max(cov):.1f}] ({', '.join(f'{c:.1f}' for c in cov)})  "
                      f"{sum(raw) / len(raw):5.1f} % [{min(raw):.1f}, {max(raw):.1f}]")
    if out_json:
        json.dump(results, open(out_json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
