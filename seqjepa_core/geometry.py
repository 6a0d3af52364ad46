"""Rotations as batched torch ops, bit-compatible with the scipy calls the official code makes.

Conventions (scipy's): Euler angles are EXTRINSIC "xyz", so R = Rz @ Ry @ Rx; quaternions are (x, y, z, w).
3DIEBench actions are ``(Rotation.from_euler("xyz", a).inv() * Rotation.from_euler("xyz", b)).as_quat()``
(hafezgh/seq-jepa ``datasets.py``, SIE). That is the rotation R_a^T R_b, but its quaternion SIGN comes from the
quaternion product, not from ``from_matrix``: the two signs disagree for ~30% of pairs (measured), and the sign
is part of the regression target of the rotation R² probe, so ``relative_rotation_quaternion`` follows the
official product by default; ``via_matrix=True`` gives the ``from_matrix`` sign instead.
"""

from __future__ import annotations

import torch


def _axis_rotations(angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    c, s = torch.cos(angles), torch.sin(angles)
    one, zero = torch.ones_like(c[..., 0]), torch.zeros_like(c[..., 0])

    def mat(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)

    rx = mat([[one, zero, zero], [zero, c[..., 0], -s[..., 0]], [zero, s[..., 0], c[..., 0]]])
    ry = mat([[c[..., 1], zero, s[..., 1]], [zero, one, zero], [-s[..., 1], zero, c[..., 1]]])
    rz = mat([[c[..., 2], -s[..., 2], zero], [s[..., 2], c[..., 2], zero], [zero, zero, one]])
    return rx, ry, rz


def euler_xyz_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """[..., 3] extrinsic xyz angles (rad) -> [..., 3, 3] rotation matrices, R = Rz @ Ry @ Rx."""
    rx, ry, rz = _axis_rotations(angles)
    return rz @ ry @ rx


def quaternion_multiply(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Hamilton product p ⊗ q of (x, y, z, w) quaternions (the rotation "p after q", scipy's ``p * q``)."""
    px, py, pz, pw = p.unbind(-1)
    qx, qy, qz, qw = q.unbind(-1)
    return torch.stack([pw * qx + px * qw + py * qz - pz * qy,
                        pw * qy - px * qz + py * qw + pz * qx,
                        pw * qz + px * qy - py * qx + pz * qw,
                        pw * qw - px * qx - py * qy - pz * qz], dim=-1)


def quaternion_conjugate(q: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion; like scipy's ``inv()`` it keeps w and negates (x, y, z)."""
    return torch.cat([-q[..., :3], q[..., 3:]], dim=-1)


def euler_xyz_to_quaternion(angles: torch.Tensor) -> torch.Tensor:
    """[..., 3] -> [..., 4] (x, y, z, w), the sign scipy's ``from_euler("xyz", a).as_quat()`` returns.

    scipy composes elementary quaternions q_axis = (sin(θ/2) e_axis, cos(θ/2)) extrinsically: q_z ⊗ q_y ⊗ q_x.
    """
    half = angles / 2
    c, s = torch.cos(half), torch.sin(half)
    zero = torch.zeros_like(c[..., 0])
    qx = torch.stack([s[..., 0], zero, zero, c[..., 0]], dim=-1)
    qy = torch.stack([zero, s[..., 1], zero, c[..., 1]], dim=-1)
    qz = torch.stack([zero, zero, s[..., 2], c[..., 2]], dim=-1)
    return quaternion_multiply(qz, quaternion_multiply(qy, qx))


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices -> [..., 4] (x, y, z, w) exactly as scipy's ``from_matrix(R).as_quat()``.

    scipy (Markley's method) builds the quaternion from whichever of (R00, R11, R22, trace) is largest, which
    fixes the sign; first index wins ties (argmax). No w >= 0 canonicalisation, like ``as_quat()``'s default.
    scipy first re-orthogonalises inputs that are not orthogonal to 1e-12; we assume rotation matrices.
    """
    m = matrix
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    choice = torch.stack([m[..., 0, 0], m[..., 1, 1], m[..., 2, 2], tr], dim=-1).argmax(dim=-1, keepdim=True)
    cases = []
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        q = [None] * 4
        q[i] = 1 - tr + 2 * m[..., i, i]
        q[j] = m[..., j, i] + m[..., i, j]
        q[k] = m[..., k, i] + m[..., i, k]
        q[3] = m[..., k, j] - m[..., j, k]
        cases.append(torch.stack(q, dim=-1))
    cases.append(torch.stack([m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                              m[..., 1, 0] - m[..., 0, 1], 1 + tr], dim=-1))
    quat = torch.stack(cases, dim=-2).gather(-2, choice[..., None].expand(*choice.shape[:-1], 1, 4)).squeeze(-2)
    return quat / quat.norm(dim=-1, keepdim=True)


def relative_rotation_quaternion(angles_a: torch.Tensor, angles_b: torch.Tensor,
                                 via_matrix: bool = False) -> torch.Tensor:
    """Quaternion (x, y, z, w) of R_a^{-1} R_b = R_a^T R_b for extrinsic-xyz angles [..., 3] -> [..., 4].

    Default: scipy's ``(from_euler(a).inv() * from_euler(b)).as_quat()`` (the official 3DIEBench action).
    ``via_matrix``: scipy's ``from_matrix(R_a.T @ R_b).as_quat()`` (same rotation, branch-chosen sign).
    """
    if via_matrix:
        return matrix_to_quaternion(euler_xyz_to_matrix(angles_a).transpose(-1, -2) @ euler_xyz_to_matrix(angles_b))
    q = quaternion_multiply(quaternion_conjugate(euler_xyz_to_quaternion(angles_a)), euler_xyz_to_quaternion(angles_b))
    return q / q.norm(dim=-1, keepdim=True)  # scipy normalises stored quaternions


def compose_quaternions(quats: torch.Tensor) -> torch.Tensor:
    """[..., K, 4] -> [..., 4]: q_1 ⊗ q_2 ⊗ ... ⊗ q_K (scipy's ``r_1 * r_2 * ... * r_K``), K >= 1.

    For the relative actions a_i = q_i^{-1} ⊗ q_{i+1} of a sequence this telescopes to q_1^{-1} ⊗ q_{K+1}, the
    rotation from the first view to the last: the path-integration target (paper Fig. 6b).
    """
    out = quats[..., 0, :]
    for k in range(1, quats.shape[-2]):
        out = quaternion_multiply(out, quats[..., k, :])
    return out / out.norm(dim=-1, keepdim=True)
