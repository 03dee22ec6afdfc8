import gzip

import nibabel as nib
import numpy as np
import pytest
from conftest import write_nifti

from synthpet.errors import InputError
from synthpet.io.imageio import atomic_path, load_volume, save_nifti, to_canonical


def test_truncated_gzip_names_the_file(tmp_path):
    path = write_nifti(tmp_path / "t1.nii.gz", shape=(20, 20, 20))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"t1\.nii\.gz: T1w is truncated or corrupt"):
        load_volume(path, "T1w")


def test_not_a_nifti(tmp_path):
    path = tmp_path / "t1.nii.gz"
    path.write_bytes(gzip.compress(b"hello"))
    with pytest.raises(InputError, match="not a readable NIfTI"):
        load_volume(path, "T1w")


def test_nan_voxels_are_counted(tmp_path):
    data = np.ones((4, 4, 4), dtype=np.float32)
    data[0, 0, :2] = np.nan
    data[1, 1, 1] = np.inf
    path = write_nifti(tmp_path / "pet.nii.gz", data=data)
    with pytest.raises(InputError, match="3 NaN or infinite voxels"):
        load_volume(path, "PET")


def test_all_zero_image(tmp_path):
    path = write_nifti(tmp_path / "t1.nii.gz", data=np.zeros((4, 4, 4)))
    with pytest.raises(InputError, match="constant"):
        load_volume(path, "T1w")


def test_4d_t1w_is_refused_but_a_trailing_singleton_is_3d(tmp_path):
    with pytest.raises(InputError, match=r"must be a 3D image, but it has shape \(4, 4, 4, 2\)"):
        load_volume(write_nifti(tmp_path / "a.nii.gz", shape=(4, 4, 4, 2)), "T1w", ndim=3)
    data, _ = load_volume(write_nifti(tmp_path / "b.nii.gz", shape=(4, 4, 4, 1)), "T1w", ndim=3)
    assert data.shape == (4, 4, 4)


def test_canonical_reorientation_keeps_every_voxel_at_its_world_position(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.random((5, 6, 7)).astype(np.float32)
    # LIP-like: x flipped, y and z swapped, with an offset
    affine = np.array([[-2.0, 0, 0, 10], [0, 0, 3.0, -5], [0, -1.5, 0, 7], [0, 0, 0, 1]])
    img = nib.Nifti1Image(data, affine)
    out, out_affine = to_canonical(data, img)
    assert nib.aff2axcodes(out_affine) == ("R", "A", "S")
    for ijk in [(0, 0, 0), (4, 5, 6), (2, 3, 1)]:
        world = affine @ [*ijk, 1]
        back = np.rint(np.linalg.inv(out_affine) @ world).astype(int)[:3]
        assert out[tuple(back)] == data[ijk]


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.nii.gz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    save_nifti(np.ones((2, 2, 2)), np.eye(4), target)
    assert target.exists() and oct(target.stat().st_mode & 0o777) != "0o600"


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.nii.gz"
    other = tmp_path / "other.nii.gz"
    # what a SIGKILL mid-write leaves: a hidden temporary beside each target
    stale = tmp_path / ".out.nii.gz.synthpet-tmp-abc123.nii.gz"
    stale.write_bytes(b"partial")
    unrelated = tmp_path / ".other.nii.gz.synthpet-tmp-xyz.nii.gz"
    unrelated.write_bytes(b"partial")
    save_nifti(np.ones((2, 2, 2)), np.eye(4), target)
    assert not stale.exists() and target.exists()
    assert unrelated.exists()  # another output's temporary is left to that output's own writer
    save_nifti(np.ones((2, 2, 2)), np.eye(4), other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.nii.gz", "out.nii.gz"]


def test_from_canonical_undoes_to_canonical(tmp_path):
    from synthpet.io.imageio import from_canonical

    data = np.random.default_rng(2).random((5, 6, 7)).astype(np.float32)
    affine = np.array([[0, 0, -1.5, 10], [-2.0, 0, 0, -5], [0, 3.0, 0, 7], [0, 0, 0, 1]])  # PIR-like
    img = nib.Nifti1Image(data, affine)
    canonical, _ = to_canonical(data, img)
    assert canonical.shape != data.shape
    np.testing.assert_array_equal(from_canonical(canonical, img), data)
