"""Benchmark: training speed of the paper model, eager fp32 baseline vs the project's trainer.

    python tests/benchmarks/bench_training.py [--size 96] [--scans 16] [--epochs 3] [--device auto]

Both run in this process on the same device and data (random volumes of the paper's shape):
(a) baseline: the model in eager fp32, batch 2, batches already on the device, a plain loop;
(b) the project's trainer (synthpet.training.train_fold) on the same data.
Printed: training volumes per second (median over epochs after the first) and epoch time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from synthpet.model import ModelConfig, UNet3D
from synthpet.training import FoldData, TrainConfig, masked_loss, resolve_device, train_fold


def baseline(data: FoldData, epochs: int, device: torch.device) -> list[float]:
    model = UNet3D(ModelConfig()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rates = []
    for _ in range(epochs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        tic = time.perf_counter()
        for start in range(0, len(data), 2):
            batch = slice(start, start + 2)
            optimizer.zero_grad(set_to_none=True)
            masked_loss(model(data.inputs[batch]), data.targets[batch], data.masks[batch], 0.5).backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(len(data) / (time.perf_counter() - tic))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--scans", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    shape = (args.scans, 1, args.size, args.size, args.size)
    generator = torch.Generator().manual_seed(0)
    data = FoldData(torch.rand(shape, generator=generator), torch.rand(shape, generator=generator), torch.ones(shape))
    on_device = data.to(device)
    base = baseline(on_device, args.epochs, device)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(epochs=args.epochs, device=str(device))
        _, history, _ = train_fold(
            data,
            FoldData(data.inputs[:0], data.targets[:0], data.masks[:0]),
            config,
            0,
            Path(tmp) / "c.pt",
            log=lambda _: None,
        )
    ours = [row["train_volumes_per_s"] for row in history]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}, {args.scans} volumes of {args.size}^3, {args.epochs} epochs, torch {torch.__version__}")
    for label, rates in (("eager fp32 baseline", base), ("synthpet trainer", ours)):
        steady = statistics.median(rates[1:] or rates)
        print(f"  {label:22s} {steady:8.2f} volumes/s   epoch {args.scans / steady:8.2f} s")
    print(f"  speed-up {statistics.median(ours[1:] or ours) / statistics.median(base[1:] or base):.2f}x")


if __name__ == "__main__":
    main()
