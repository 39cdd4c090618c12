#!/usr/bin/python3
"""PyTorch's own nn.LSTM forecaster, alone and as DistributedDataParallel (gloo), for the bench suite's side-by-side.

Adapted from the team's peer benchmark (../shared/bench/lstm_bench.py, "Peer benchmark: PyTorch nn.LSTM forecaster on a
synthetic sine+noise series"): the same model (LSTM(1 -> hidden x layers, batch_first) -> Linear(hidden, 1) on the last
step), window 32, Adam lr 1e-3, MSE, one thread per process. What changed: hidden size and layers are options, and the
rate is measured the way lstmcluster's trainer measures its own (every step after the warm-up, batch sampling included,
wall clock over all of them, not a median of step times), so the suite can put the two side by side.

A measurement tool, never a dependency of the product: it needs Debian's python3-torch (/usr/bin/python3).

Usage:
  /usr/bin/python3 lstm_peer.py single --hidden 64 --layers 2 --batch 64 --steps 2000 [--warmup 50]
  /usr/bin/python3 lstm_peer.py ddp --world 2 --hidden 64 --layers 2 --batch 32 --steps 2000   # per-process batch
Prints one JSON line: samples_per_s (global), ms_per_step.
"""
import argparse, json, os, time

import numpy as np
import torch
import torch.nn as nn

WIN = 32


class LstmForecaster(nn.Module):
    def __init__(self, hidden, layers):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


def make_windows(n=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float32)
    s = (np.sin(2 * np.pi * t / 50.0) + 0.1 * rng.standard_normal(n)).astype(np.float32)
    idx = np.arange(n - WIN)[:, None] + np.arange(WIN)[None, :]
    return torch.from_numpy(s[idx]).unsqueeze(-1), torch.from_numpy(s[WIN:]).unsqueeze(-1)


def train(model, X, Y, batch, steps, warmup, seed):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    lossf = nn.MSELoss()
    start = None
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        ix = torch.randint(0, X.shape[0], (batch,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(X[ix]), Y[ix])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def single(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X, Y = make_windows()
    wall = train(LstmForecaster(a.hidden, a.layers), X, Y, a.batch, a.steps, a.warmup, 0)
    print(json.dumps(dict(mode="single", samples_per_s=a.batch * a.steps / wall, ms_per_step=wall / a.steps * 1e3)))


def ddp_rank(rank, a, q):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(a.port)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    import torch.distributed as dist
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=a.world)
    torch.manual_seed(0)
    X, Y = make_windows()
    model = nn.parallel.DistributedDataParallel(LstmForecaster(a.hidden, a.layers))
    dist.barrier()
    wall = train(model, X, Y, a.batch, a.steps, a.warmup, 1000 + rank)
    dist.barrier()
    q.put(wall)
    dist.destroy_process_group()


def ddp(a):
    import torch.multiprocessing as mp
    q = mp.get_context("spawn").SimpleQueue()
    mp.start_processes(ddp_rank, args=(a, q), nprocs=a.world, join=True, start_method="spawn")
    wall = max(q.get() for _ in range(a.world))   # every step waits for the all-reduce: the slowest rank's time
    print(json.dumps(dict(mode="ddp", world=a.world, samples_per_s=a.batch * a.world * a.steps / wall, ms_per_step=wall / a.steps * 1e3)))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["single", "ddp"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch", type=int, default=64, help="per process")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--port", type=int, default=29512)
    a = p.parse_args()
    {"single": single, "ddp": ddp}[a.mode](a)
