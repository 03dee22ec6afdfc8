import pytest
import torch

from synthpet.learn.model import AttentionBlock, ModelConfig, UNet3D, count_parameters

SMALL = ModelConfig(channels=8, norm_groups=4, head_norm_groups=4)


def test_paper_model_has_507553_parameters():
    assert count_parameters(UNet3D(ModelConfig())) == 507_553


def test_configurable_variants_change_the_count():
    full = count_parameters(UNet3D(ModelConfig(separable=False)))
    two_contrasts = count_parameters(UNet3D(ModelConfig(in_channels=2)))
    assert full > 507_553 * 2  # full 3D convolutions everywhere
    assert two_contrasts == 507_553 + 27 * 32  # one more input channel in the first convolution
    with pytest.raises(ValueError, match="one entry per resolution level"):
        UNet3D(ModelConfig(channel_mults=(1, 1, 1), attention_levels=(False, True)))


def test_output_shape_and_range():
    model = UNet3D(SMALL)
    with torch.no_grad():
        y = model(torch.rand(2, 1, 16, 16, 16))
    assert y.shape == (2, 1, 16, 16, 16)
    assert 0 < float(y.min()) and float(y.max()) < 1


def test_a_sample_does_not_depend_on_the_rest_of_its_batch():
    """The authors' code attended across the batch; ours attends over each sample's voxels."""
    torch.manual_seed(0)
    model = UNet3D(SMALL).train()
    a, b, c = (torch.rand(1, 1, 16, 16, 16) for _ in range(3))
    with torch.no_grad():
        with_b = model(torch.cat([a, b]))[0]
        with_c = model(torch.cat([a, c]))[0]
        alone = model(a)[0]
    torch.testing.assert_close(with_b, with_c, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(with_b, alone, rtol=1e-5, atol=1e-6)


def test_attention_mixes_voxels_within_a_sample():
    torch.manual_seed(0)
    block = AttentionBlock(8, groups=4)
    x = torch.rand(1, 8, 3, 3, 3)
    changed = x.clone()
    changed[0, :, 0, 0, 0] += 1.0  # one voxel changes; attention carries it to the others
    with torch.no_grad():
        difference = (block(changed) - block(x)).abs()
    assert float(difference[0, :, 2, 2, 2].sum()) > 0
