"""Training: the loss, a real training loop, resume after a real SIGKILL, fold isolation, inference."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest import REPO, write_nifti

from synthpet.io.config import load_config
from synthpet.learn.inference import predict_held_out
from synthpet.learn.model import ModelConfig, UNet3D, count_parameters
from synthpet.learn.training import FoldData, TrainConfig, masked_loss, speed_levers, train_fold, write_fold_artefacts

TINY = ModelConfig(channels=8, norm_groups=4, head_norm_groups=4)


def tiny_data(n, seed=0, size=16):
    """T1w-like inputs whose 'PET' is a smooth function of them, so there is something to learn."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.rand(n, 1, size, size, size, generator=g)
    masks = torch.zeros_like(inputs)
    masks[..., 2:-2, 2:-2, 2:-2] = 1
    targets = torch.nn.functional.avg_pool3d(inputs, 3, stride=1, padding=1) * masks
    return FoldData(inputs * masks, targets, masks)


def test_loss_on_known_values():
    prediction = torch.full((1, 1, 2, 2, 2), 0.5)
    target = torch.ones_like(prediction)
    mask = torch.zeros_like(prediction)
    mask[..., 0] = 1  # half the voxels
    # in the mask: BCE = ln 2, squared error 0.25; outside both are 0 after masking
    expected = 0.5 * (0.5 * np.log(2)) + 0.5 * (0.5 * 0.25)
    assert float(masked_loss(prediction, target, mask, 0.5)) == pytest.approx(expected, rel=1e-6)
    assert float(masked_loss(prediction, target, mask, 1.0)) == pytest.approx(0.5 * np.log(2), rel=1e-6)


def test_training_lowers_the_loss_and_writes_its_artefacts(tmp_path):
    config = TrainConfig(epochs=6, batch_size=2, learning_rate=3e-3, seed=1, device="cpu", model=TINY)
    model, history, facts = train_fold(tiny_data(6), tiny_data(2, seed=9), config, 0, tmp_path / "ckpt.pt", log=print)
    assert len(history) == 6
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["held_out_loss"] < history[0]["held_out_loss"]
    assert facts["device"] == "cpu" and facts["resumed_from_epoch"] == 0
    out = {k: tmp_path / f"{k}.out" for k in ("weights", "losses", "plot", "summary")}
    write_fold_artefacts(model, history, facts, config, 0, {"train": ["a"], "held_out": ["b"]}, out, {"grid": 1})
    assert out["plot"].read_bytes()[:4] == b"\x89PNG"
    assert "held_out_loss" in out["losses"].read_text()
    # checkpoints and weights load without arbitrary code execution
    assert torch.load(out["weights"], weights_only=True).keys() == model.state_dict().keys()
    assert torch.load(tmp_path / "ckpt.pt", weights_only=True)["epoch"] == 5


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    sys.path.insert(0, {tests!r})
    from test_training import TINY, tiny_data
    from synthpet.learn.training import TrainConfig, train_fold
    torch.set_num_threads(1)
    config = TrainConfig(epochs=5, batch_size=2, learning_rate=3e-3, seed=3, device="cpu", model=TINY)
    model, _, facts = train_fold(tiny_data(6), tiny_data(2, seed=9), config, 1, Path(sys.argv[1]), log=print)
    torch.save(model.state_dict(), sys.argv[2])
    print("resumed_from_epoch", facts["resumed_from_epoch"])
    """
)


def test_resume_after_sigkill_gives_the_same_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT.format(tests=str(REPO / "tests")))
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    # uninterrupted run
    subprocess.run([sys.executable, script, tmp_path / "a.pt", tmp_path / "a_final.pt"], check=True, env=env)
    # killed with SIGKILL once its first checkpoint exists, then started again
    checkpoint = tmp_path / "b.pt"
    process = subprocess.Popen([sys.executable, script, checkpoint, tmp_path / "b_final.pt"], env=env)
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "b_final.pt").exists()  # it really died before finishing
    resumed = subprocess.run(
        [sys.executable, script, checkpoint, tmp_path / "b_final.pt"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "resuming after epoch" in resumed.stdout
    a = torch.load(tmp_path / "a_final.pt", weights_only=True)
    b = torch.load(tmp_path / "b_final.pt", weights_only=True)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_checkpoint_of_other_settings_is_not_reused(tmp_path):
    first = TrainConfig(epochs=1, seed=0, device="cpu", model=TINY)
    train_fold(tiny_data(2), tiny_data(1), first, 0, tmp_path / "c.pt", log=print)
    messages = []
    second = TrainConfig(epochs=2, learning_rate=1e-3, seed=0, device="cpu", model=TINY)
    _, history, facts = train_fold(tiny_data(2), tiny_data(1), second, 0, tmp_path / "c.pt", log=messages.append)
    assert any("other settings" in m for m in messages) and facts["resumed_from_epoch"] == 0 and len(history) == 2


def test_checkpoint_of_other_data_is_not_reused(tmp_path):
    """A fold whose input volumes changed (a scan's T1w edited) trains afresh, not from the old checkpoint."""
    config = TrainConfig(epochs=2, seed=0, device="cpu", model=TINY)
    train_fold(tiny_data(2), tiny_data(1), config, 0, tmp_path / "c.pt", log=print)
    messages = []
    same = train_fold(tiny_data(2), tiny_data(1), config, 0, tmp_path / "c.pt", log=messages.append)
    assert same[2]["resumed_from_epoch"] == 2  # same settings and data: nothing left to train
    changed = tiny_data(2)
    changed.inputs[0, 0, 0, 0, 0] += 0.5
    messages.clear()
    _, history, facts = train_fold(changed, tiny_data(1), config, 0, tmp_path / "c.pt", log=messages.append)
    assert any("other settings or data" in m for m in messages) and facts["resumed_from_epoch"] == 0


def test_prediction_on_the_grid_and_in_native_space(tmp_path):
    """A fold's held-out scans, predicted with its model loaded once: each scan's own prediction (the
    model applied to its T1w, inside its mask), on the grid and in its native T1w space."""
    config = TrainConfig(epochs=1, seed=0, device="cpu", model=TINY)
    model, history, facts = train_fold(tiny_data(2), tiny_data(1), config, 0, tmp_path / "c.pt", log=print)
    weights = tmp_path / "model.pt"
    torch.save(model.state_dict(), weights)
    grid_affine = np.diag([4.0, 4.0, 4.0, 1.0])
    grid_affine[:3, 3] = -30
    data = tiny_data(2)
    scans = []
    for n, shape in enumerate([(40, 40, 40), (30, 36, 40)]):
        t1 = write_nifti(tmp_path / f"t1g{n}.nii.gz", data=data.inputs[n, 0].numpy(), affine=grid_affine)
        mask = data.masks[n, 0].numpy()
        mask_path = write_nifti(tmp_path / f"mg{n}.nii.gz", data=mask, affine=grid_affine, dtype=np.uint8)
        native = write_nifti(tmp_path / f"native{n}.nii.gz", shape=shape, affine=np.diag([1.5, 1.5, 1.5, 1.0]))
        out = {"out_grid": str(tmp_path / f"pg{n}.nii.gz"), "out_native": str(tmp_path / f"pn{n}.nii.gz")}
        scans.append({"t1w": str(t1), "mask": str(mask_path), "native": str(native), **out})
    predict_held_out(weights, TINY.to_dict(), scans, "cpu")
    model.eval()
    for n, scan in enumerate(scans):
        on_grid, in_native = nib.load(scan["out_grid"]), nib.load(scan["out_native"])
        assert on_grid.shape == (16, 16, 16) and np.allclose(on_grid.affine, grid_affine)
        assert in_native.shape == nib.load(scan["native"]).shape
        assert np.allclose(in_native.affine, nib.load(scan["native"]).affine)
        with torch.no_grad():
            expected = model(data.inputs[n : n + 1])[0, 0].numpy() * (data.masks[n, 0].numpy() > 0)
        assert np.allclose(on_grid.get_fdata(), expected, atol=1e-6)  # this scan's, not the other's
    first, second = (nib.load(scan["out_grid"]).get_fdata() for scan in scans)
    assert not np.allclose(first, second)


def test_concurrent_fold_jobs_spread_over_the_visible_gpus(monkeypatch):
    """No GPU here: the choice of device is checked with torch's CUDA queries answered for 3 GPUs."""
    from synthpet.learn.training import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert [resolve_device("cuda", job=k).index for k in range(5)] == [0, 1, 2, 0, 1]
    assert resolve_device("cuda:2", job=0) == torch.device("cuda", 2)  # an explicit GPU is kept
    assert resolve_device("auto", job=4) == torch.device("cuda", 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto", job=4) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="torch sees no CUDA device"):
        resolve_device("cuda", job=0)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last_3d])
def test_depthwise_convolution_gradients_match_torch(memory_format):
    """The fast CPU backward of DepthwiseConv3d gives torch's own gradients (input, weight and bias)."""
    from synthpet.learn.model import DepthwiseConv3d

    torch.manual_seed(0)
    layer = DepthwiseConv3d(3).double().to(memory_format=memory_format)
    x = torch.randn(2, 3, 5, 6, 7, dtype=torch.float64).contiguous(memory_format=memory_format).requires_grad_()
    weight = torch.randn(2, 3, 5, 6, 7, dtype=torch.float64)  # a non-uniform upstream gradient
    (layer(x) * weight).sum().backward()
    ours = (x.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone())
    x.grad = None
    reference = torch.nn.functional.conv3d(x, layer.weight, layer.bias, padding=1, groups=3)
    theirs = torch.autograd.grad((reference * weight).sum(), (x, layer.weight, layer.bias))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def _loss_curve(tmp_path, name, **levers):
    config = TrainConfig(epochs=3, batch_size=2, learning_rate=3e-3, seed=5, device="cpu", model=SMALL, **levers)
    _, history, facts = train_fold(tiny_data(4), tiny_data(2, seed=9), config, 0, tmp_path / f"{name}.pt", log=print)
    return np.array([[row["train_loss"], row["held_out_loss"]] for row in history]), facts


# two levels keep torch.compile's first build to seconds
SMALL = ModelConfig(channels=8, channel_mults=(1, 1), attention_levels=(False, True), norm_groups=4, head_norm_groups=4)


@pytest.mark.parametrize(
    "levers, tolerance",
    [
        ({"memory_format": "channels_last"}, 1e-5),
        ({"precision": "bf16"}, 2e-2),
        # per push: torch.compile's capture and AOT autograd, run by eager kernels (seconds to build)
        ({"compile": "default", "compile_backend": "aot_eager", "memory_format": "channels_last"}, 1e-4),
        # inductor's C++ build takes 3-6 minutes cold on 2 cores: opt-in (SYNTHPET_TEST_INDUCTOR=1)
        pytest.param(
            {"compile": "default", "memory_format": "channels_last"},
            1e-4,
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(
                    os.environ.get("SYNTHPET_TEST_INDUCTOR") != "1",
                    reason="inductor's first build takes minutes: set SYNTHPET_TEST_INDUCTOR=1",
                ),
            ],
        ),
    ],
)
def test_speed_levers_train_the_same_model(tmp_path, levers, tolerance, request):
    """Each lever gives the loss curve of the plain contiguous fp32 loop, within its arithmetic's tolerance.
    Compiled levers run on two threads, whatever the session set: on one, compiled training keeps the
    default layout (the next test)."""
    if "compile" in levers:
        request.getfixturevalue("two_threads")
    baseline, facts = _loss_curve(tmp_path, "plain", memory_format="contiguous")
    assert facts["speed_levers"]["memory_format"] == "contiguous"
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    curve, facts = _loss_curve(tmp_path, "lever", **levers)
    for key, value in levers.items():
        assert facts["speed_levers"][key] == value
    np.testing.assert_allclose(curve, baseline, rtol=tolerance)
    if "precision" in levers:  # bf16 really ran: its arithmetic differs from fp32's
        assert np.abs(curve - baseline).max() > 1e-6
    if "compile" in levers:  # the network really went through Dynamo, not around it
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0
    assert curve[-1, 0] < curve[0, 0]  # and it still learns


def torch_threads(count: int):
    """torch on ``count`` CPU threads for one test, whatever the session set (conftest: one beside the demo)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def two_threads():
    yield from torch_threads(2)


@pytest.fixture
def one_thread():
    yield from torch_threads(1)


def test_compiled_training_on_one_cpu_thread_keeps_the_default_layout(tmp_path, one_thread):
    """torch 2.13's compiled backward (AOT autograd) on one CPU thread gives channels-last 3D convolutions
    wrong bias gradients: the compiled loss curve left the plain one by 0.9 % in three epochs. On one
    thread, compiled training resolves to the default layout and follows the plain loop again."""
    compiled = {"compile": "default", "compile_backend": "aot_eager"}
    assert speed_levers(TrainConfig(**compiled), torch.device("cpu")).memory_format == "contiguous"
    assert speed_levers(TrainConfig(), torch.device("cpu")).memory_format == "channels_last"  # eager: fine
    baseline, _ = _loss_curve(tmp_path, "plain", memory_format="contiguous")
    torch._dynamo.reset()
    curve, facts = _loss_curve(tmp_path, "compiled", **compiled)
    assert facts["speed_levers"]["memory_format"] == "contiguous"
    np.testing.assert_allclose(curve, baseline, rtol=1e-4)


def test_auto_memory_format_is_channels_last_on_the_cpu():
    assert speed_levers(TrainConfig(), torch.device("cpu")).memory_format == "channels_last"
    assert speed_levers(TrainConfig(), torch.device("cuda")).memory_format == "contiguous"
    assert speed_levers(TrainConfig(memory_format="contiguous"), torch.device("cpu")).memory_format == "contiguous"


def test_cosine_schedule_anneals_from_the_learning_rate_to_near_zero():
    """Each epoch's rate is a function of the epoch alone (so a resumed run continues the same curve)."""
    from synthpet.learn.training import epoch_learning_rate

    cosine = TrainConfig(epochs=4, learning_rate=0.004, lr_schedule="cosine")
    rates = [epoch_learning_rate(cosine, epoch) for epoch in range(4)]
    # 0.004 * (1 + cos(pi * e / 4)) / 2 for e = 0..3, by hand
    assert rates == pytest.approx([0.004, 0.0034142136, 0.002, 0.0005857864], rel=1e-7)
    constant = TrainConfig(epochs=4, learning_rate=0.004)
    assert [epoch_learning_rate(constant, epoch) for epoch in range(4)] == [0.004] * 4


def test_train_config_from_a_workflow_config_drops_the_job_threads():
    # the protocol benchmark built its settings from the config by hand and crashed on 'threads'
    config = load_config(REPO / "config" / "phantom-paper.yaml")
    config["training"]["threads"] = 3
    settings = TrainConfig.from_config(config)
    assert settings.epochs == config["training"]["epochs"] == 50 and settings.seed == config["seed"]
    assert settings.model == ModelConfig.from_dict(config["model"])
    assert count_parameters(UNet3D(settings.model)) == 507_553


@pytest.mark.parametrize("augment", ["none", "flip"])
def test_flip_augmentation_mirrors_each_training_pair_whole(tmp_path, monkeypatch, augment):
    """`training.augment: flip`: every training step's volumes are training pairs, each either as it is
    or with its T1w, target PET and mask all mirrored left-right (along the grid's X), both forms over
    the epochs; 'none' (the paper's) never mirrors. A flip of the input alone, or of another axis, fails."""
    import synthpet.learn.training as training

    steps, pending = [], []
    real_forward, real_loss = training.forward, training.masked_loss

    def recording_forward(model, inputs, levers, device):
        if model.training:  # a training step, not the held-out evaluation
            pending.append(inputs.detach().clone())
        return real_forward(model, inputs, levers, device)

    def recording_loss(prediction, target, mask, alpha):
        if pending:
            steps.append((pending.pop(), target.detach().clone(), mask.detach().clone()))
        return real_loss(prediction, target, mask, alpha)

    monkeypatch.setattr(training, "forward", recording_forward)
    monkeypatch.setattr(training, "masked_loss", recording_loss)
    data = tiny_data(3)
    data.masks[:, :, :8] = 0  # a mask that is not left-right symmetric, so its mirror image differs
    data = FoldData(data.inputs * data.masks, data.targets * data.masks, data.masks)
    config = TrainConfig(epochs=4, batch_size=2, seed=0, device="cpu", model=TINY, augment=augment)
    train_fold(data, tiny_data(1), config, 0, tmp_path / "c.pt", log=lambda _: None)
    assert len(steps) == 8  # 4 epochs of 2 batches (2 volumes and 1)
    forms = []
    for inputs, targets, masks in steps:
        for volumes in zip(inputs, targets, masks, strict=True):
            matches = [
                (i, mirror)
                for i in range(3)
                for mirror in (False, True)
                if all(
                    torch.equal(seen, known[i].flip(1) if mirror else known[i])
                    for seen, known in zip(volumes, (data.inputs, data.targets, data.masks), strict=True)
                )
            ]
            assert len(matches) == 1, "a step's volume is not one training pair, whole, as it is or mirrored"
            forms.append(matches[0][1])
    assert len(forms) == 12 and set(forms) == ({False, True} if augment == "flip" else {False})
