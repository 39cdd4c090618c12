#!/usr/bin/env bash
# Global against shard-local sampling (sync mode), interleaved: embedded --workers 2 with each, and --workers 1.
# Same setup as ../shared/bench/side_by_side.sh: LSTM 2x64, window 32, global batch 64, Adam, 1 torch thread per worker.
# Usage (from the repo root, after a Release build): scripts/sampling_side_by_side.sh [REPEATS] [DATA.csv]
set -u
R=${1:-5}; data=${2:-../shared/bench/sine8k.csv}
CLI=src/LstmCluster.Cli/bin/Release/net10.0/lstmcluster
o=$(mktemp -d)
common="--data $data --target value --lookback 32 --horizon 1 --hidden 64 --layers 2 --batch-size 64 --epochs ${EPOCHS:-3} --patience 0 --seed 1 --normalize global --torch-threads 1"
figures() { python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m['training']['samples_per_second'], m['model']['rmse'])" "$1"; }
for r in $(seq "$R"); do
  for c in "global 2" "shard-local 2" "global 1"; do
    set -- $c
    $CLI train $common --workers "$2" --sampling "$1" --out "$o/$1-$2" >"$o/$1-$2.log" 2>&1 \
      && echo "$1-K$2 $(figures "$o/$1-$2/metrics.json")" || echo "$1-K$2 FAIL"
  done
done | tee "$o/results.txt"
python3 - "$o/results.txt" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3: d[parts[0]].append(float(parts[1]))
for k, v in d.items(): print(f"{k:16s} median {statistics.median(v):8.0f} samples/s ({len(v)} runs)")
if d["global-K2"] and d["shard-local-K2"]:
    print("shard-local / global, per repeat:", " ".join(f"{s / g:.2f}" for s, g in zip(d["shard-local-K2"], d["global-K2"])))
PY
rm -rf "$o"
