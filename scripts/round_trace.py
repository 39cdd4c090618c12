#!/usr/bin/env python3
"""Where a training job's rounds spend their time, from a LSTMCLUSTER_WIRE_TRACE directory.

Usage:
    LSTMCLUSTER_WIRE_TRACE=/tmp/trace lstmcluster train|simulate ... --workers K
    python3 scripts/round_trace.py /tmp/trace [--steady-from 0.33]

Every process of the run appends timestamped marks to wire-<pid>.txt in the directory (Actors README, "Performance");
the timestamps share one clock across the processes of a machine, so the files merge. This script reads the round
marks of the sync rounds:

    round-open     the parameter server tells a round's weights to its workers (its Broadcast)
    compute-start  a worker starts its part (weights loaded, gradient computed, flattened)
    compute-end    ... and has its reply ready
    gradient-in    the server's actor receives a gradient
    round-close    the server has every gradient of the round and steps

and prints, per round (from one round-open to the next), the parts:

    to workers     round-open to the last worker's compute-start (the weights' way, mailbox, dispatch)
    slowest        the slowest worker's compute
    fastest        the fastest worker's compute (the gap to the slowest is what waiting on stragglers costs)
    back           the last compute-end to round-close (the gradient's way, and any epoch end's validation the
                   server was busy with while the round ran)
    server         round-close to the next round-open (averaging, optimizer step, and at an epoch end without
                   overlap, validation)

with medians and p90 over the steady rounds (after the first third by default), and the sums over blocks of 40
rounds, which show what the first rounds (the processes' fresh, unoptimized code) cost over the steady state.
Only the Python standard library.
"""
import argparse
import glob
import os
import signal
import statistics
import sys


def load(directory):
    marks, freq = [], None
    files = glob.glob(os.path.join(directory, "wire-*.txt"))
    if not files:
        sys.exit(f"no wire-*.txt in {directory}: run lstmcluster with LSTMCLUSTER_WIRE_TRACE={directory}")
    for path in files:
        with open(path) as f:
            for line in f:
                if line.startswith("#"):
                    if "ticks/s" in line:
                        freq = float(line.split("ticks/s")[1])
                    continue
                parts = line.split()
                if len(parts) >= 3 and parts[1] in ("round-open", "compute-start", "compute-end", "gradient-in", "round-close"):
                    marks.append((int(parts[0]), parts[1], parts[2]))
    if freq is None:
        sys.exit("no header line with ticks/s in the trace files")
    marks.sort()
    return marks, freq


def rounds(marks, freq):
    ms = lambda ticks: ticks / freq * 1000.0
    opens = [i for i, m in enumerate(marks) if m[1] == "round-open"]
    rows = []
    for a, b in zip(opens, opens[1:]):
        segment = marks[a:b]
        t0, t1 = segment[0][0], marks[b][0]
        start = {m[2]: m[0] for m in segment if m[1] == "compute-start"}
        end = {m[2]: m[0] for m in segment if m[1] == "compute-end"}
        close = [m[0] for m in segment if m[1] == "round-close"]
        workers = [w for w in start if w in end]
        if not workers or not close:
            continue  # a round whose marks fell outside the trace (the last, or one cut by an overlap)
        computes = [ms(end[w] - start[w]) for w in workers]
        last_end = max(end[w] for w in workers)
        rows.append({
            "to workers": ms(max(start[w] for w in workers) - t0),
            "slowest": max(computes),
            "fastest": min(computes),
            "back": ms(close[0] - last_end),
            "server": ms(t1 - close[0]),
            "round": ms(t1 - t0),
            "workers": len(workers),
        })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--steady-from", type=float, default=1 / 3, help="share of the rounds to skip before the steady state (default 1/3)")
    args = parser.parse_args()
    marks, freq = load(args.directory)
    rows = rounds(marks, freq)
    if not rows:
        sys.exit("no complete round in the trace (round marks come from sync training: train or simulate, --mode sync)")
    names = ["to workers", "slowest", "fastest", "back", "server", "round"]
    steady = rows[int(len(rows) * args.steady_from):] or rows
    print(f"{len(rows)} rounds, {max(r['workers'] for r in rows)} worker(s); steady state: the last {len(steady)}")
    print(f"{'part':<12} {'median ms':>10} {'p90 ms':>8} {'mean ms':>8}")
    for n in names:
        v = sorted(r[n] for r in steady)
        print(f"{n:<12} {statistics.median(v):>10.2f} {v[int(0.9 * (len(v) - 1))]:>8.2f} {sum(v) / len(v):>8.2f}")
    median_round = statistics.median(r["round"] for r in steady)
    total = sum(r["round"] for r in rows)
    print(f"\nall rounds: {total:.0f} ms; at the steady median round ({median_round:.2f} ms) they would take {median_round * len(rows):.0f} ms")
    print(f"\nsums per block of 40 rounds (ms)\n{'rounds':<10}" + "".join(f"{n:>12}" for n in names))
    for a in range(0, len(rows), 40):
        block = rows[a:a + 40]
        print(f"{a:>3}-{a + len(block) - 1:<6}" + "".join(f"{sum(r[n] for r in block):>12.1f}" for n in names))
    slow = sorted(rows, key=lambda r: -r["round"])[:5]
    print("\nslowest rounds (ms): " + ", ".join(f"#{rows.index(r)} {r['round']:.1f} (back {r['back']:.1f}, server {r['server']:.1f})" for r in slow))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # piped into head: stop quietly
    main()
