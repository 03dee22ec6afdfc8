"""Benchmark: training volumes/s of the trainer and each speed lever against the authors' eager fp32 loop.

    python tests/benchmarks/bench_training.py                     # CPU: demo model and paper model at 32^3, 48^3
    python tests/benchmarks/bench_training.py --device cuda --cases paper:96 --levers gpu

Per case (model and grid size), on random volumes of that shape, all in one process on one device:
  - baseline: the authors' loop, a different loop from the trainer: the model with torch's own
    depthwise convolutions, contiguous memory, eager fp32, batch 2, a plain Adam step; run before
    and after the levers, so drift of the machine shows as two different baseline figures;
  - each lever: synthpet.learn.training.train_fold with those settings (the code the workflow runs).
With --concurrent K, K trainer processes then train at once on the same device (several folds on
one large GPU, as `--resources gpu=K` allows on a workstation) and their summed volumes/s is printed.
tests/benchmarks/gpu_session.sh runs the GPU figures of RESULTS.md in one go.
Printed per run: training volumes/s (median over epochs after the first, which holds compilation),
the speed-up over the median of both baseline runs, and the final training loss of each run on the
same data and seed, so a lever that trains a different model shows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from synthpet.learn.model import DepthwiseConv3d, ModelConfig, UNet3D
from synthpet.learn.training import FoldData, TrainConfig, masked_loss, resolve_device, train_fold

MODELS = {
    "demo": ModelConfig(channels=8, head_norm_groups=4),  # config/config.yaml
    "paper": ModelConfig(),  # 507,553 parameters
}
LEVERS = {
    "cpu": {"trainer (auto)": {}},
    "gpu": {
        "eager fp32 (trainer)": {"memory_format": "contiguous"},
        "channels-last fp32": {"memory_format": "channels_last"},
        "bf16 autocast": {"precision": "bf16", "memory_format": "contiguous"},
        "compile fp32": {"compile": "default", "memory_format": "contiguous"},
        "compile bf16": {"compile": "default", "precision": "bf16", "memory_format": "contiguous"},
        "compile bf16 channels-last": {"compile": "default", "precision": "bf16", "memory_format": "channels_last"},
        "CUDA graphs bf16": {"compile": "reduce-overhead", "precision": "bf16", "memory_format": "contiguous"},
    },
}


def authors_model(config: ModelConfig) -> nn.Module:
    """The model with torch's own depthwise convolution (the layer the authors' code used)."""
    model = UNet3D(config)
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, DepthwiseConv3d):
                plain = nn.Conv3d(child.in_channels, child.out_channels, 3, padding=1, groups=child.groups)
                plain.load_state_dict(child.state_dict())
                setattr(parent, name, plain)
    return model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline(data: FoldData, config: ModelConfig, epochs: int, device: torch.device) -> tuple[list[float], float]:
    torch.manual_seed(0)
    model = authors_model(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rates, loss = [], torch.zeros(())
    for _ in range(epochs):
        sync(device)
        tic = time.perf_counter()
        for start in range(0, len(data), 2):
            batch = slice(start, start + 2)
            optimizer.zero_grad(set_to_none=True)
            loss = masked_loss(model(data.inputs[batch]), data.targets[batch], data.masks[batch], 0.5)
            loss.backward()
            optimizer.step()
        sync(device)
        rates.append(len(data) / (time.perf_counter() - tic))
    return rates, loss.item()


def trainer(data: FoldData, config: ModelConfig, epochs: int, device: torch.device, levers: dict):
    empty = FoldData(data.inputs[:0], data.targets[:0], data.masks[:0])
    settings = TrainConfig(epochs=epochs, seed=0, device=str(device), model=config, **levers)
    with tempfile.TemporaryDirectory() as tmp:
        _, history, facts = train_fold(data, empty, settings, 0, Path(tmp) / "c.pt", log=lambda _: None)
    return [row["train_volumes_per_s"] for row in history], history[-1]["train_loss"], facts["speed_levers"]


def _concurrent_worker(args) -> float:
    data, config, epochs, device, levers = args
    torch.set_num_threads(max(1, torch.get_num_threads() // 2))
    rates, _, _ = trainer(data, config, epochs, torch.device(device), levers)
    return steady(rates)


def concurrent(data: FoldData, config: ModelConfig, epochs: int, device: torch.device, levers: dict, k: int) -> float:
    """Summed steady volumes/s of k trainer processes running at once on one device."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(k) as pool:
        return sum(pool.map(_concurrent_worker, [(data, config, epochs, str(device), levers)] * k))


def steady(rates: list[float]) -> float:
    return statistics.median(rates[1:] or rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["demo:32", "paper:32", "paper:48"], help="MODEL:SIZE")
    parser.add_argument("--scans", type=int, default=8, help="training volumes per epoch")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--concurrent", type=int, default=0, help="also K trainer processes at once")
    parser.add_argument("--levers", choices=sorted(LEVERS), default=None, help="default: cpu or gpu by device")
    parser.add_argument("--only", nargs="+", default=None, help="run only these levers (labels as printed)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    levers = LEVERS[args.levers or ("gpu" if device.type == "cuda" else "cpu")]
    if args.only:
        unknown = set(args.only) - set(levers)
        if unknown:
            parser.error(f"--only: no lever {sorted(unknown)}; there are {sorted(levers)}")
        levers = {label: settings for label, settings in levers.items() if label in args.only}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {name}, torch {torch.__version__}, {args.scans} volumes per epoch, {args.epochs} epochs per run")
    for case in args.cases:
        model_name, size = case.split(":")
        shape = (args.scans, 1, int(size), int(size), int(size))
        generator = torch.Generator().manual_seed(0)
        data = FoldData(
            torch.rand(shape, generator=generator), torch.rand(shape, generator=generator), torch.ones(shape)
        )
        print(f"{model_name} model at {size}^3:")
        before, base_loss = baseline(data.to(device), MODELS[model_name], args.epochs, device)
        print(f"  {'baseline (authors loop), before':34s} {steady(before):8.2f} vol/s            loss {base_loss:.6f}")
        runs = []
        for label, settings in levers.items():
            rates, loss, resolved = trainer(data, MODELS[model_name], args.epochs, device, settings)
            runs.append((label, rates))
            # printed as each run ends, so a run stopped at a time limit keeps what it measured
            print(
                f"  {label:34s} {steady(rates):8.2f} vol/s  {steady(rates) / steady(before):5.2f}x before   "
                f"loss {loss:.6f}  {resolved['memory_format']}, {resolved['precision']}, compile {resolved['compile']}"
            )
        after, _ = baseline(data.to(device), MODELS[model_name], args.epochs, device)
        reference = statistics.median([steady(before), steady(after)])
        print(f"  {'baseline (authors loop), after':34s} {steady(after):8.2f} vol/s")
        for label, rates in runs:
            print(f"  {label:34s} {steady(rates) / reference:5.2f}x over the median of both baselines")
        if args.concurrent:
            label, settings = list(levers.items())[-1]
            total = concurrent(data, MODELS[model_name], args.epochs, device, settings, args.concurrent)
            print(f"  {args.concurrent} x {label:30s} {total:8.2f} vol/s  {total / reference:5.2f}x   (summed)")


if __name__ == "__main__":
    main()
