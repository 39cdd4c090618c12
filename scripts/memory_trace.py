#!/usr/bin/env python3
"""Where each process's resident memory is, over a run, from a LSTMCLUSTER_WIRE_TRACE directory.

Usage:
    LSTMCLUSTER_WIRE_TRACE=/tmp/trace lstmcluster train|simulate|node ...
    python3 scripts/memory_trace.py /tmp/trace [--rows 12]

Once a second every traced process writes a line (Actors' WireTrace) with its resident set, the managed heap (size
after the last collection, and committed), glibc's heaps (taken from the kernel, in use inside them, free inside them)
with its blocks mapped one by one, and its thread count. This script prints, per process, those figures at evenly
spaced seconds of the run, and the change from the first line to the last: whether a process's growth is managed
objects, live native blocks (libtorch's tensors), free space a heap keeps, or none of these (code, stacks, the
runtime's own). Only the Python standard library.
"""
import argparse
import glob
import os
import signal
import sys


def load(path):
    header, rows = None, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                header = header or line[1:].strip()
                continue
            p = line.split()
            if len(p) < 4 or p[1] != "gc" or "mem" not in p:
                continue
            i = p.index("mem")
            managed = [int(x) for x in p[i + 2].split("/")]
            native = [int(x) for x in p[i + 3].split("/")] if p[i + 3] != "-" else None
            threads = int(p[p.index("threads") + 1]) if "threads" in p else 0
            rows.append({"t": int(p[0]), "gc": p[2], "rss": int(p[i + 1]), "managed": managed, "native": native, "threads": threads})
    return header, rows


def mib(kib):
    return f"{kib / 1024:8.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--rows", type=int, default=12, help="seconds shown per process (default 12)")
    args = parser.parse_args()
    files = sorted(glob.glob(os.path.join(args.directory, "wire-*.txt")))
    if not files:
        sys.exit(f"no wire-*.txt in {args.directory}: run lstmcluster with LSTMCLUSTER_WIRE_TRACE={args.directory}")
    shown = 0
    for path in files:
        header, rows = load(path)
        if not rows:
            continue
        shown += 1
        # The header is "<pid> <command line> ticks/s <frequency>": the command tells which node this was.
        print(f"\n{os.path.basename(path)}: {(header or '').split(' ticks/s')[0][:150]}")
        print(f"{'second':>6} {'resident':>8} {'managed':>8} {'m.commit':>8} {'glibc':>8} {'in use':>8} {'free':>8} {'mapped':>8} {'threads':>7}  gc 0/1/2  (MiB)")
        picks = sorted({round(i * (len(rows) - 1) / max(1, args.rows - 1)) for i in range(args.rows)})
        for i in picks:
            r = rows[i]
            n = r["native"] or [0, 0, 0, 0]
            print(f"{i + 1:>6} {mib(r['rss'])} {mib(r['managed'][0])} {mib(r['managed'][1])} {mib(n[0])} {mib(n[1])} {mib(n[2])} {mib(n[3])} {r['threads']:>7}  {r['gc']}")
        a, b = rows[0], rows[-1]
        na, nb = a["native"] or [0, 0, 0, 0], b["native"] or [0, 0, 0, 0]
        print(f"{'change':>6} {mib(b['rss'] - a['rss'])} {mib(b['managed'][0] - a['managed'][0])} {mib(b['managed'][1] - a['managed'][1])} "
              f"{mib(nb[0] - na[0])} {mib(nb[1] - na[1])} {mib(nb[2] - na[2])} {mib(nb[3] - na[3])} {b['threads'] - a['threads']:>7}")
    if not shown:
        sys.exit("no memory lines in the trace (they come once a second from a build whose WireTrace writes 'mem')")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # piped into head: stop quietly
    main()
