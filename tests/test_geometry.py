"""seqjepa_core.geometry against scipy's Rotation, the library the official code calls."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from seqjepa_core.geometry import (euler_xyz_to_matrix, euler_xyz_to_quaternion, matrix_to_quaternion,
                                   relative_rotation_quaternion)

N = 4000


def angles(limit: float, seed: int, shape=(N,)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-limit, limit, (*shape, 3))


@pytest.mark.parametrize("limit", [np.pi / 2, np.pi])
def test_euler_matrix_and_quaternion_match_scipy(limit):
    a = angles(limit, 0)
    r = Rotation.from_euler("xyz", a)
    np.testing.assert_allclose(euler_xyz_to_matrix(torch.from_numpy(a)).numpy(), r.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(euler_xyz_to_quaternion(torch.from_numpy(a)).numpy(), r.as_quat(), atol=1e-12)


def test_matrix_is_extrinsic_xyz_product():
    a = angles(np.pi, 1, (5,))
    ref = [Rotation.from_euler("z", z).as_matrix() @ Rotation.from_euler("y", y).as_matrix()
           @ Rotation.from_euler("x", x).as_matrix() for x, y, z in a]
    np.testing.assert_allclose(euler_xyz_to_matrix(torch.from_numpy(a)).numpy(), np.stack(ref), atol=1e-12)


@pytest.mark.parametrize("limit", [np.pi / 2, np.pi])
def test_matrix_to_quaternion_reproduces_scipy_sign(limit):
    m = Rotation.from_euler("xyz", angles(limit, 2)).as_matrix()
    ours = matrix_to_quaternion(torch.from_numpy(m)).numpy()
    ref = Rotation.from_matrix(m).as_quat()
    np.testing.assert_allclose(ours, ref, atol=1e-12)  # same sign, not just the same rotation
    assert (ref[:, 3] < 0).any()  # scipy's branch choice does produce w < 0: no canonicalisation happens


def test_matrix_to_quaternion_on_branch_ties():
    # 180 degree turns make several of (R00, R11, R22, trace) equal: the first maximum must win, as in scipy
    axes = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1], [1, -1, 0]], float)
    rotvecs = np.concatenate([np.pi * axes / np.linalg.norm(axes, axis=1, keepdims=True), np.zeros((1, 3))])
    m = Rotation.from_rotvec(rotvecs).as_matrix()
    np.testing.assert_allclose(matrix_to_quaternion(torch.from_numpy(m)).numpy(), Rotation.from_matrix(m).as_quat(),
                               atol=1e-12)


@pytest.mark.parametrize("limit", [np.pi / 2, np.pi])
def test_relative_rotation_matches_official_scipy_code(limit):
    a, b = angles(limit, 3), angles(limit, 4)
    ra, rb = Rotation.from_euler("xyz", a), Rotation.from_euler("xyz", b)
    ref = (ra.inv() * rb).as_quat()  # hafezgh/seq-jepa datasets.py
    ours = relative_rotation_quaternion(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # float32 inputs, as the loader holds latents: vs scipy on the same float32 values
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    ref32 = (Rotation.from_euler("xyz", a32.astype(float)).inv()
             * Rotation.from_euler("xyz", b32.astype(float))).as_quat()
    ours32 = relative_rotation_quaternion(torch.from_numpy(a32), torch.from_numpy(b32))
    assert ours32.dtype == torch.float32
    np.testing.assert_allclose(ours32.numpy(), ref32, atol=2e-6)


@pytest.mark.parametrize("limit", [np.pi / 2, np.pi])
def test_relative_rotation_via_matrix_matches_from_matrix(limit):
    a, b = angles(limit, 5), angles(limit, 6)
    ma, mb = Rotation.from_euler("xyz", a).as_matrix(), Rotation.from_euler("xyz", b).as_matrix()
    rel = np.swapaxes(ma, 1, 2) @ mb
    ref = Rotation.from_matrix(rel).as_quat()
    ours = relative_rotation_quaternion(torch.from_numpy(a), torch.from_numpy(b), via_matrix=True).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # float32: same branch wherever the branch decision is not a near-tie
    ours32 = relative_rotation_quaternion(torch.from_numpy(a).float(), torch.from_numpy(b).float(), via_matrix=True)
    decision = np.sort(np.stack([rel[:, 0, 0], rel[:, 1, 1], rel[:, 2, 2], np.trace(rel, axis1=1, axis2=2)], 1), 1)
    clear = decision[:, -1] - decision[:, -2] > 1e-4
    assert clear.mean() > 0.99
    np.testing.assert_allclose(ours32.numpy()[clear], ref[clear], atol=2e-5)


def test_both_conventions_are_the_same_rotation_up_to_sign():
    a, b = torch.from_numpy(angles(np.pi, 7)), torch.from_numpy(angles(np.pi, 8))
    q1 = relative_rotation_quaternion(a, b)
    q2 = relative_rotation_quaternion(a, b, via_matrix=True)
    assert torch.allclose((q1 * q2).sum(-1).abs(), torch.ones(N, dtype=torch.float64), atol=1e-12)
    assert ((q1 - q2).abs().amax(-1) > 0.1).any()  # and their signs do differ: the choice matters for probes


def test_batched_shapes():
    a, b = torch.from_numpy(angles(np.pi, 9, (6, 5))), torch.from_numpy(angles(np.pi, 10, (6, 5)))
    q = relative_rotation_quaternion(a, b)
    assert q.shape == (6, 5, 4)
    ref = (Rotation.from_euler("xyz", a.reshape(-1, 3).numpy()).inv()
           * Rotation.from_euler("xyz", b.reshape(-1, 3).numpy())).as_quat()
    np.testing.assert_allclose(q.reshape(-1, 4).numpy(), ref, atol=1e-12)
    assert euler_xyz_to_matrix(a).shape == (6, 5, 3, 3)


def test_composed_relative_rotations_are_the_rotation_from_first_to_last_view():
    """Path-integration target (Fig. 6b): composing the actions a_1..a_M equals scipy's R_1^{-1} R_{M+1}."""
    from seqjepa_core.geometry import compose_quaternions, relative_rotation_quaternion

    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 7):
        angles = rng.uniform(-np.pi, np.pi, (16, m + 1, 3))
        actions = relative_rotation_quaternion(torch.from_numpy(angles[:, :-1]), torch.from_numpy(angles[:, 1:]))
        composed = compose_quaternions(actions).numpy()
        for b in range(16):
            rots = [Rotation.from_euler("xyz", a) for a in angles[b]]
            step = Rotation.identity()
            for r_prev, r_next in zip(rots[:-1], rots[1:]):  # compose the relative steps one by one
                step = step * (r_prev.inv() * r_next)
            np.testing.assert_allclose(composed[b], step.as_quat(), atol=1e-9)  # same sign as scipy
            np.testing.assert_allclose(composed[b], (rots[0].inv() * rots[-1]).as_quat(), atol=1e-9)


def test_matrix_to_quaternion_keeps_every_batch_dimension():
    a = angles(np.pi, 11, (6, 5))
    m = euler_xyz_to_matrix(torch.from_numpy(a))
    q = matrix_to_quaternion(m)
    assert q.shape == (6, 5, 4)
    np.testing.assert_allclose(q.reshape(-1, 4).numpy(), Rotation.from_matrix(m.reshape(-1, 3, 3).numpy()).as_quat(),
                               atol=1e-12)
