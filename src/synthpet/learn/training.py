"""Training one fold: Adam, alpha * BCE + (1 - alpha) * MSE inside the brain, resumable per epoch.

The fold's data are loaded once and kept on the device (a 96^3 volume is 3.5 MB in float32, so a
whole cohort fits on any GPU), so a step never waits for disk. Held-out scans are evaluated every
epoch for the loss curve and never used to choose a model: the final weights are the last epoch's.

A checkpoint (weights, optimizer, loss history) is written after every epoch, atomically, beside
the fold's outputs; a job killed at any point and started again resumes from it and, on the CPU
with a fixed seed, ends with the same weights as an uninterrupted run (each epoch's batch order
comes from a generator seeded by (seed, fold, epoch), so nothing else needs restoring).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthpet.learn.model import ModelConfig, UNet3D, count_parameters


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 2
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"  # or 'cosine': annealed to 0 over the epochs
    augment: str = "none"  # or 'flip': each training volume mirrored left-right with probability 1/2
    alpha: float = 0.5
    seed: int = 42
    device: str = "auto"
    # speed levers (see `speed_levers`); precision changes the arithmetic, the others only the speed
    memory_format: str = "auto"
    precision: str = "fp32"
    compile: str = "off"
    # who compiles: 'inductor' (generated kernels, the fast one), or 'aot_eager' (the same captured
    # graphs and autograd, run by eager kernels: seconds to build, for checking the compiled path)
    compile_backend: str = "inductor"
    model: ModelConfig = field(default_factory=ModelConfig)

    @classmethod
    def from_config(cls, config: dict) -> TrainConfig:
        """The settings of a workflow config's `training`, `model` and `seed`; `training.threads` is
        the job's thread count, not a setting of the training."""
        training = {key: value for key, value in config["training"].items() if key != "threads"}
        return cls(seed=config["seed"], model=ModelConfig.from_dict(config["model"]), **training)

    def fingerprint(self) -> str:
        """Identifies the settings a checkpoint was made with (a changed setting starts afresh).

        The memory format and compilation compute the same function, so a checkpoint made with
        one resumes under another.
        """
        settings = {k: v for k, v in asdict(self).items() if k not in ("memory_format", "compile", "compile_backend")}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SpeedLevers:
    """How a fold trains on its device, resolved from the settings and recorded in summary.json."""

    memory_format: str  # 'channels_last' or 'contiguous'
    precision: str  # 'fp32' or 'bf16' (autocast; the loss stays fp32)
    compile: str  # 'off' or a torch.compile mode ('default', 'reduce-overhead' = CUDA graphs, ...)
    compile_backend: str  # torch.compile's backend when compile is not 'off'
    threads: int

    def torch_format(self) -> torch.memory_format:
        return torch.channels_last_3d if self.memory_format == "channels_last" else torch.contiguous_format


def speed_levers(config: TrainConfig, device: torch.device) -> SpeedLevers:
    """Resolve 'auto': channels-last on the CPU, where it trained 2.0-2.5x faster than the default
    layout (tests/benchmarks/RESULTS.md); the default layout on CUDA until a GPU run shows otherwise."""
    memory_format = config.memory_format
    if memory_format == "auto":
        memory_format = "channels_last" if device.type == "cpu" else "contiguous"
    compiled_on_one_cpu_thread = config.compile != "off" and device.type == "cpu" and torch.get_num_threads() == 1
    if memory_format == "channels_last" and compiled_on_one_cpu_thread:
        # torch 2.13: AOT autograd (under every compile backend but 'eager') on one CPU thread gives
        # channels-last 3D convolutions wrong bias gradients, off by 20 % of the largest gradient
        # (eager, and two threads, are right): compiled training on one thread keeps the default layout
        if config.memory_format == "channels_last":
            logging.getLogger("synthpet").warning(
                "training.memory_format channels_last with training.compile on one CPU thread gives wrong "
                "gradients in torch's compiled backward: training in the default layout instead"
            )
        memory_format = "contiguous"
    return SpeedLevers(memory_format, config.precision, config.compile, config.compile_backend, torch.get_num_threads())


def forward(model: nn.Module, inputs: torch.Tensor, levers: SpeedLevers, device: torch.device) -> torch.Tensor:
    """The model's prediction in fp32, under bf16 autocast when asked (BCE is not autocast-safe)."""
    if levers.precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return model(inputs).float()
    return model(inputs)


def resolve_device(name: str, job: int | None = None) -> torch.device:
    """The torch device of a setting ('auto', 'cpu', 'cuda', 'cuda:N').

    With several GPUs visible and no scheduler choosing one (a workstation; SLURM exposes only the
    job's own GPU), concurrent fold jobs spread over them: job k takes GPU k modulo their number.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"training.device is {name!r} but torch sees no CUDA device")
    if name == "cuda" and job is not None:
        return torch.device("cuda", job % torch.cuda.device_count())
    return torch.device(name)


def masked_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, alpha: float) -> torch.Tensor:
    """alpha * BCE + (1 - alpha) * MSE of the prediction and target, both multiplied by the brain mask.

    As in the authors' code, the mean runs over every voxel of the volume (zeros outside the brain).
    """
    prediction, target = prediction * mask, target * mask
    bce = nn.functional.binary_cross_entropy(prediction, target)
    mse = nn.functional.mse_loss(prediction, target)
    return alpha * bce + (1.0 - alpha) * mse


@dataclass
class FoldData:
    """Inputs, targets and masks of a fold's scans as (scans, 1, D, H, W) float32 tensors."""

    inputs: torch.Tensor
    targets: torch.Tensor
    masks: torch.Tensor

    def to(self, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> FoldData:
        return FoldData(
            *(t.to(device).contiguous(memory_format=memory_format) for t in (self.inputs, self.targets, self.masks))
        )

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def digest(self) -> str:
        """Identifies the data: a checkpoint made on other volumes must not be resumed."""
        sha = hashlib.sha256()
        for tensor in (self.inputs, self.targets, self.masks):
            sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return sha.hexdigest()[:16]


def load_volumes(inputs: Sequence[str], targets: Sequence[str], masks: Sequence[str]) -> FoldData:
    import nibabel as nib

    def stack(paths):
        return torch.from_numpy(np.stack([np.asarray(nib.load(p).dataobj, np.float32) for p in paths])[:, None])

    return FoldData(stack(inputs), stack(targets), stack(masks))


def epoch_learning_rate(config: TrainConfig, epoch: int) -> float:
    """The learning rate of an epoch (0-based): a function of the epoch alone, so a resumed run matches."""
    if config.lr_schedule == "cosine":
        return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    return config.learning_rate


def epoch_draws(n: int, seed: int, fold: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An epoch's order of the training volumes, and which of them it mirrors (``augment: flip``): a
    function of the epoch alone, so a resumed run matches."""
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, fold, epoch]).generate_state(1)[0]))
    order = torch.randperm(n, generator=generator)
    return order, torch.rand(n, generator=generator) < 0.5


def mirrored(volumes: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """(N, C, X, Y, Z) volumes with those of ``flip`` mirrored along X, the grid's left-right axis."""
    return torch.where(flip.view(-1, 1, 1, 1, 1), volumes.flip(2), volumes)


def evaluate(model: nn.Module, data: FoldData, config: TrainConfig, levers: SpeedLevers, device: torch.device) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(data), config.batch_size):
            batch = slice(start, start + config.batch_size)
            prediction = forward(model, data.inputs[batch], levers, device)
            loss = masked_loss(prediction, data.targets[batch], data.masks[batch], config.alpha)
            total += loss.item() * data.inputs[batch].shape[0]
    return total / len(data)


def _save_atomic(obj, path: Path) -> None:
    from synthpet.io.imageio import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def train_fold(
    train: FoldData,
    held_out: FoldData,
    config: TrainConfig,
    fold: int,
    checkpoint: Path,
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, list[dict], dict]:
    """Train (or resume) one fold; returns the model, the per-epoch loss table and timing facts."""
    device = resolve_device(config.device, job=fold)
    torch.manual_seed(config.seed + fold)
    model = UNet3D(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history: list[dict] = []
    start_epoch = 0
    # settings and data: a setting or an input volume that changed starts the training afresh
    fingerprint = f"{config.fingerprint()}-{train.digest()}-{held_out.digest()}"
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("fingerprint") == fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            history = list(state["history"])
            start_epoch = int(state["epoch"]) + 1
            log(f"fold {fold}: resuming after epoch {start_epoch} from {checkpoint}")
        else:
            log(f"fold {fold}: {checkpoint} was made with other settings or data; starting afresh")

    levers = speed_levers(config, device)
    model = model.to(memory_format=levers.torch_format())
    # the compiled module shares the model's parameters; checkpoints store the plain model's
    network = (
        model
        if levers.compile == "off"
        else torch.compile(
            model,
            mode=None if levers.compile == "default" else levers.compile,
            backend=levers.compile_backend,
        )
    )
    train, held_out = train.to(device, levers.torch_format()), held_out.to(device, levers.torch_format())
    log(f"fold {fold}: training on {device} with {levers}")
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        model.train()
        tic = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = epoch_learning_rate(config, epoch)
        order, flips = (draw.to(device) for draw in epoch_draws(len(train), config.seed, fold, epoch))
        running, seen = 0.0, 0
        for start in range(0, len(train), config.batch_size):
            batch = order[start : start + config.batch_size]
            inputs, targets, masks = train.inputs[batch], train.targets[batch], train.masks[batch]
            if config.augment == "flip":
                flip = flips[batch]
                inputs, targets, masks = (mirrored(v, flip) for v in (inputs, targets, masks))
            optimizer.zero_grad(set_to_none=True)
            prediction = forward(network, inputs, levers, device)
            loss = masked_loss(prediction, targets, masks, config.alpha)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(batch)
            seen += len(batch)
        train_seconds = time.perf_counter() - tic
        held_out_loss = evaluate(network, held_out, config, levers, device) if len(held_out) else float("nan")
        row = {
            "epoch": epoch + 1,
            "train_loss": running / seen,
            "held_out_loss": held_out_loss,
            "seconds": time.perf_counter() - tic,
            "train_volumes_per_s": seen / train_seconds,
        }
        history.append(row)
        _save_atomic(
            {
                "fingerprint": fingerprint,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
            },
            checkpoint,
        )
        bar = "#" * int(20 * (epoch + 1) / config.epochs)
        log(
            f"fold {fold} [{bar:<20}] epoch {epoch + 1}/{config.epochs} train {row['train_loss']:.5f} "
            f"held-out {held_out_loss:.5f} {row['train_volumes_per_s']:.2f} vol/s {row['seconds']:.1f} s"
        )
    facts = {
        "device": str(device),
        # set by the scheduler (SLURM) to the GPUs allocated to this job
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "seconds_this_run": time.perf_counter() - started,
        "resumed_from_epoch": start_epoch,
        "parameters": count_parameters(model),
        "speed_levers": asdict(levers),
    }
    return model, history, facts


def write_fold_artefacts(
    model: nn.Module,
    history: list[dict],
    facts: dict,
    config: TrainConfig,
    fold: int,
    scans: dict,
    out: dict,
    preprocess: dict | None = None,
    trained_on: str | None = None,
) -> None:
    """Final weights, loss table and plot, and summary.json (settings, versions, device, timings).

    ``trained_on`` is the input source ('phantom' or 'bids'): `synthpet predict` warns when models
    trained on the synthetic cohort are applied to new scans.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from synthpet import __version__
    from synthpet.io.imageio import atomic_path, write_json, write_text
    from synthpet.learn.loss_figure import draw_losses

    _save_atomic({k: v.detach().cpu() for k, v in model.state_dict().items()}, Path(out["weights"]))
    table = pd.DataFrame(history)
    write_text(table.to_csv(sep="\t", index=False, lineterminator="\n", float_format="%.6g"), out["losses"])
    figure, ax = plt.subplots(figsize=(6, 4))
    draw_losses(ax, {fold: table}, config.alpha)
    ax.set_title(f"fold {fold}: training (solid) and held-out (dashed) loss")
    figure.tight_layout()
    with atomic_path(out["plot"]) as tmp:
        figure.savefig(tmp, dpi=90, format="png")
    plt.close(figure)
    summary = {
        "fold": fold,
        "settings": asdict(config),
        "preprocess": preprocess,  # what `synthpet predict` needs to prepare a new T1w the same way
        "trained_on": trained_on,
        "scans": scans,
        "facts": facts,
        "final": history[-1] if history else None,
        "versions": {
            "synthpet": __version__,
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    write_json(summary, out["summary"])


def load_model(path: str | Path, config: ModelConfig, device: str | torch.device = "cpu") -> UNet3D:
    model = UNet3D(config)
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model.to(device).eval()
