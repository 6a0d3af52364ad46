"""A procedural miniature 3DIEBench in exactly the real on-disk format, for CPU demos and tests.

Layout (as facebookresearch/SIE's 3DIEBench): ``root/<8-digit synset>/<32-hex object id>/image_{i}.jpg`` and
``latent_{i}.npy`` (float64 [rot_x, rot_y, rot_z, floor_hue, spot_theta, spot_phi, spot_hue]), plus
``{train,val}_{images,labels}.npy`` in ``splits_dir`` (paths "/<synset>/<id>/", label = sorted-synset index).

Each object is a random instance (random proportions and colours) of a class built from boxes, ellipsoids and
cylinders, ray-cast in numpy: perspective camera, coloured floor, coloured spot light with Lambertian shading
and cast shadows, edge-adaptive 2x2 supersampling. Each view draws its own factors like the real data: an extrinsic xyz
rotation R = Rz Ry Rx (each angle in (-pi/2, pi/2)) applied to the object, floor hue, spot (theta, phi, hue).
Parts and faces get distinct shades so no object is rotationally symmetric: rotation is recoverable from pixels.
The demo's ``Look`` options (never used for 3DIEBench itself) paint each surface by its object-frame normal,
move the camera closer and keep one lighting per object, so that a small encoder sees the rotation sooner.
"""

from __future__ import annotations

import colorsys
import ctypes
import functools
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

BOX, ELLIPSOID, CYLINDER = 0, 1, 2
Part = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # kind, centre, rot (part->object), size, albedo[6,3]

_EPS = 1e-6
_FLOOR_Z = -1.25
_CAM_POS = np.array([0.0, -4.2, 1.7])
_CAM_TARGET = np.array([0.0, 0.0, -0.25])
_FOV = np.deg2rad(38.0)
_LIGHT_DIST = 5.0
_SPOT_INNER, _SPOT_OUTER = float(np.cos(np.deg2rad(22.0))), float(np.cos(np.deg2rad(38.0)))
_AMBIENT = 0.22
MARKER = ".synthetic"  # in root: this folder is generated and may be regenerated
_F = np.float32  # rendering dtype: half the memory traffic of float64, ample precision at this scale


@dataclass(frozen=True)
class Look:
    """Demo-only rendering options; the defaults render 3DIEBench's look. They make an object's rotation
    easier to see for a small encoder trained briefly (README, "What the 3DIEBench demo shows")."""

    paint: float = 0.0                 # weight (0-1) in each surface's albedo of a colour given by its
                                       # object-frame normal, so that orientation shows as colour
    camera_scale: float = 1.0          # camera distance to its target, as a fraction of the default
    per_object_lighting: bool = False  # every view keeps view 0's floor hue and spot light (and latents say so)

    def __post_init__(self):
        if not 0 <= self.paint <= 1:
            raise ValueError(f"paint must be in [0, 1], got {self.paint}")
        if not 0 < self.camera_scale <= 1:
            raise ValueError(f"camera_scale must be in (0, 1], got {self.camera_scale}")

    def camera_position(self) -> np.ndarray:
        return _camera_position(self.camera_scale)

    @staticmethod
    def add_arguments(ap) -> None:
        """The generator scripts' flags for these options (``rules/common.smk: look_args`` writes them)."""
        ap.add_argument("--paint", type=float, default=PLAIN.paint, help="weight of the surface-normal colour (demo)")
        ap.add_argument("--camera-scale", type=float, default=PLAIN.camera_scale, help="camera distance, <= 1 (demo)")
        ap.add_argument("--per-object-lighting", action="store_true", help="view 0's lighting in every view (demo)")

    @classmethod
    def from_args(cls, args) -> "Look":
        return cls(paint=args.paint, camera_scale=args.camera_scale, per_object_lighting=args.per_object_lighting)


PLAIN = Look()


def _camera_position(camera_scale: float) -> np.ndarray:
    return _CAM_TARGET + camera_scale * (_CAM_POS - _CAM_TARGET)


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def euler_xyz_matrix(angles: np.ndarray) -> np.ndarray:
    """Extrinsic xyz (scipy ``from_euler("xyz")``): R = Rz @ Ry @ Rx."""
    return _rot(2, angles[2]) @ _rot(1, angles[1]) @ _rot(0, angles[0])


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def _albedo(rng: np.random.Generator, base: np.ndarray, spread: float = 0.35) -> np.ndarray:
    """Six face shades around ``base``: distinct enough that a face's identity (hence orientation) is visible."""
    shades = 1.0 - spread * rng.permutation(np.linspace(0.0, 1.0, 6))
    return np.clip(base[None] * shades[:, None] + rng.uniform(-0.04, 0.04, (6, 3)), 0.02, 1.0)


def _part(rng: np.random.Generator, kind: int, centre, size, colour: np.ndarray, rot: np.ndarray | None = None) -> Part:
    return (kind, np.asarray(centre, float), np.eye(3) if rot is None else rot, np.asarray(size, float),
            _albedo(rng, colour))


def _palette(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    h = rng.uniform()
    return [_hsv(h + rng.uniform(-0.12, 0.12) + 0.5 * (k % 2), rng.uniform(0.35, 0.75), rng.uniform(0.6, 0.95))
            for k in range(n)]


def _airplane(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    length, radius, span = rng.uniform(0.9, 1.15), rng.uniform(0.11, 0.17), rng.uniform(0.65, 1.0)
    wx, tail = rng.uniform(-0.1, 0.15), -length * 0.85
    return [_part(rng, ELLIPSOID, (0, 0, 0), (length, radius, radius), c[0]),
            _part(rng, BOX, (wx, 0, -0.02), (rng.uniform(0.18, 0.28), span, 0.025), c[1]),
            _part(rng, BOX, (tail, 0, 0.02), (0.1, span * 0.35, 0.02), c[1]),
            _part(rng, BOX, (tail, 0, radius + 0.13), (0.12, 0.02, rng.uniform(0.12, 0.2)), c[2])]


def _cabinet(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    w, d, h = rng.uniform(0.45, 0.7), rng.uniform(0.3, 0.45), rng.uniform(0.6, 0.9)
    return [_part(rng, BOX, (0, 0, 0), (w, d, h), c[0]),
            _part(rng, BOX, (0, 0, h + 0.04), (w + 0.06, d + 0.06, 0.04), c[1]),
            _part(rng, BOX, (0, -d - 0.05, h * 0.45), (w * 0.8, 0.05, h * 0.3), c[2]),
            _part(rng, BOX, (w * 0.45, -d - 0.14, h * 0.45), (0.05, 0.06, 0.05), c[1])]


def _chair(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    s, back_h, leg_h = rng.uniform(0.4, 0.55), rng.uniform(0.4, 0.65), rng.uniform(0.35, 0.5)
    parts = [_part(rng, BOX, (0, 0, 0), (s, s, 0.05), c[0]),
             _part(rng, BOX, (-s + 0.04, 0, back_h + 0.05), (0.04, s, back_h), c[1]),
             _part(rng, BOX, (0, s - 0.04, 0.2), (s * 0.8, 0.03, 0.03), c[2])]  # one armrest: no mirror twin
    parts += [_part(rng, BOX, (sx * (s - 0.05), sy * (s - 0.05), -leg_h - 0.05), (0.04, 0.04, leg_h), c[2])
              for sx in (-1, 1) for sy in (-1, 1)]
    return parts


def _mug(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 2)
    r, h = rng.uniform(0.35, 0.5), rng.uniform(0.45, 0.7)
    body = _part(rng, CYLINDER, (0, 0, 0), (r, r, h), c[0])
    body[4][1] = c[0] * 0.25  # dark top cap: the mug's "inside"
    return [body,
            _part(rng, BOX, (r + 0.2, 0, 0), (0.05, 0.06, h * 0.55), c[1]),
            _part(rng, BOX, (r + 0.08, 0, h * 0.5), (0.14, 0.06, 0.05), c[1]),
            _part(rng, BOX, (r + 0.08, 0, -h * 0.5), (0.14, 0.06, 0.05), c[1])]


def _lamp(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    pole, reach = rng.uniform(0.55, 0.8), rng.uniform(0.3, 0.5)
    return [_part(rng, CYLINDER, (0, 0, -pole), (0.4, 0.4, 0.06), c[0]),
            _part(rng, CYLINDER, (0, 0, 0), (0.04, 0.04, pole), c[1]),
            _part(rng, BOX, (reach / 2, 0, pole), (reach / 2 + 0.03, 0.03, 0.03), c[1]),
            _part(rng, ELLIPSOID, (reach, 0, pole - 0.2), (0.3, 0.3, rng.uniform(0.18, 0.28)), c[2])]


def _car(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 2)
    length, width, h = rng.uniform(0.8, 1.0), rng.uniform(0.35, 0.45), rng.uniform(0.14, 0.2)
    wheel = _rot(0, np.pi / 2)  # cylinder axis along y
    parts = [_part(rng, BOX, (0, 0, 0), (length, width, h), c[0]),
             _part(rng, BOX, (-length * rng.uniform(0.1, 0.3), 0, h + 0.13), (length * 0.5, width * 0.85, 0.13), c[1])]
    parts += [_part(rng, CYLINDER, (sx * length * 0.65, sy * width, -h), (0.17, 0.17, 0.06), np.full(3, 0.12), wheel)
              for sx in (-1, 1) for sy in (-1, 1)]
    return parts


def _table(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    length, width, leg = rng.uniform(0.8, 1.0), rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.6)
    parts = [_part(rng, BOX, (0, 0, leg), (length, width, 0.04), c[0]),
             _part(rng, BOX, (length * 0.45, -width * 0.5, leg - 0.1), (length * 0.35, width * 0.4, 0.07), c[2]),
             _part(rng, BOX, (-length * 0.5, width - 0.03, leg + 0.2), (length * 0.45, 0.03, 0.18), c[2])]  # half hutch
    parts += [_part(rng, BOX, (sx * (length - 0.06), sy * (width - 0.06), 0), (0.04, 0.04, leg), c[1])
              for sx in (-1, 1) for sy in (-1, 1)]
    return parts


def _bottle(rng: np.random.Generator) -> list[Part]:
    c = _palette(rng, 3)
    r, h = rng.uniform(0.25, 0.35), rng.uniform(0.45, 0.6)
    return [_part(rng, CYLINDER, (0, 0, -0.3), (r, r, h), c[0]),
            _part(rng, ELLIPSOID, (0, 0, h - 0.3), (r, r, r * 0.8), c[0]),
            _part(rng, CYLINDER, (0, 0, h - 0.3 + r), (0.09, 0.09, 0.25), c[1]),
            _part(rng, BOX, (0, -r, -0.3), (r * 0.6, 0.03, h * 0.5), c[2])]  # label on one side only


# (ShapeNet synset id of the category imitated, name, builder); labels follow sorted synset order as in the real
# data. ``num_classes`` takes the first n, so small demos get the most distinct shapes.
CLASSES: list[tuple[str, str, Callable[[np.random.Generator], list[Part]]]] = [
    ("02691156", "airplane", _airplane), ("02933112", "cabinet", _cabinet), ("03001627", "chair", _chair),
    ("03797390", "mug", _mug), ("03636649", "lamp", _lamp), ("02958343", "car", _car),
    ("04379243", "table", _table), ("02876657", "bottle", _bottle)]


def _normalise(parts: list[Part]) -> list[Part]:
    """Centre the object and scale it to a unit bounding radius (ShapeNet models are normalised too)."""
    corners = []
    for _, centre, rot, size, _ in parts:
        signs = np.array(np.meshgrid(*[[-1, 1]] * 3)).reshape(3, -1).T
        corners.append(centre + (signs * size) @ rot.T)
    pts = np.concatenate(corners)
    mid = (pts.max(0) + pts.min(0)) / 2
    scale = 1.0 / np.linalg.norm(pts - mid, axis=1).max()
    return [(k, ((c - mid) * scale).astype(_F), r.astype(_F), (s * scale).astype(_F), a.astype(_F))
            for k, c, r, s, a in parts]


# Performance notes (this renderer is the generator's hot path; all measured on the 2-core dev box):
# vectors are stored structure-of-arrays [3, N] in float32; all views of an object are traced in one batch;
# small matrix products and dots go through einsum; gathers/scatters along the ray axis use np.take and
# row-wise assignment (``a[:, idx]`` fancy indexing is ~5x slower); pool workers keep freed memory in the heap.

def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise dot of [3, N] arrays."""
    return np.einsum("in,in->n", *np.broadcast_arrays(a, b))


def _cols(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a[..., idx], fast."""
    return np.take(a, idx, axis=-1)


def _set_cols(a: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """a[:, idx] = values, fast."""
    for row, v in zip(a, values):
        row[idx] = v


def _intersect(kind: int, o: np.ndarray, d: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entering hit of rays o + t d (part frame, [3, N]) with a part: t (inf = miss), local normal [3, N] and
    face id (which albedo row)."""
    n = d.shape[1]
    normal = np.zeros((3, n), _F)
    sz = size[:, None]
    if kind == BOX:  # slabs
        dd = np.where(np.abs(d) < 1e-12, 1e-12, d)
        t0, t1 = (-sz - o) / dd, (sz - o) / dd
        tn = np.minimum(t0, t1)
        axis = tn.argmax(0)[None]
        tnear, tfar = np.take_along_axis(tn, axis, 0)[0], np.maximum(t0, t1).min(0)
        sign = -np.sign(np.take_along_axis(dd, axis, 0))
        np.put_along_axis(normal, axis, sign, 0)
        return np.where((tnear <= tfar) & (tnear > _EPS), tnear, np.inf), normal, axis[0] * 2 + (sign[0] < 0)
    if kind == ELLIPSOID:  # the unit sphere after scaling
        os_, ds = o / sz, d / sz
        a, b, c = _dot(ds, ds), 2 * _dot(os_, ds), _dot(os_, os_) - 1
        disc = b * b - 4 * a * c
        t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
        p = o + t * d
        normal = p / sz ** 2
        normal /= np.sqrt(_dot(normal, normal)) + 1e-12
        face = (p[0] > 0).astype(int) + 2 * (p[2] > 0)  # quadrant shades: no symmetry survives
        return np.where((disc > 0) & (t > _EPS), t, np.inf), normal, face
    r, h = size[0], size[2]  # cylinder along z: side, then the cap facing the ray
    a = d[0] * d[0] + d[1] * d[1]
    b = 2 * (o[0] * d[0] + o[1] * d[1])
    disc = b * b - 4 * a * (o[0] * o[0] + o[1] * o[1] - r * r)
    ts = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * np.maximum(a, 1e-12))
    side = (disc > 0) & (ts > _EPS) & (np.abs(o[2] + ts * d[2]) <= h)
    zc = -np.sign(d[2]) * h
    tc = (zc - o[2]) / np.where(np.abs(d[2]) < 1e-12, 1e-12, d[2])
    px, py = o[0] + tc * d[0], o[1] + tc * d[1]
    t = np.where(side, ts, np.inf)
    cap = (tc > _EPS) & (px * px + py * py <= r * r) & (tc < t)
    t = np.where(cap, tc, t)
    normal[0] = np.where(cap, 0.0, (o[0] + ts * d[0]) / r)
    normal[1] = np.where(cap, 0.0, (o[1] + ts * d[1]) / r)
    normal[2] = np.where(cap, np.sign(zc), 0.0)
    return t, normal, np.where(cap, np.where(zc > 0, 1, 2), 0)


def _hits_sphere(o: np.ndarray, d: np.ndarray, t_max: np.ndarray | float, radius: float = 1.0) -> np.ndarray:
    """Rays (origin relative to the centre) whose segment (0, t_max) meets the sphere: the cheap cull before parts."""
    b = _dot(o, d)
    disc = b * b - (_dot(o, o) - radius * radius)
    root = np.sqrt(np.maximum(disc, 0.0))
    return (disc > 0) & (-b + root > 0) & (-b - root < t_max)


def _bounding_radius(kind: int, size: np.ndarray) -> float:
    if kind == BOX:
        return float(np.linalg.norm(size))
    return float(size.max() if kind == ELLIPSOID else np.hypot(size[0], size[2]))


@functools.lru_cache(maxsize=8)
def _camera(n_px: int, camera_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed camera sampled at n_px x n_px pixel centres: ray directions [3, n_px^2] (row-major, top row first),
    their floor points (the camera position for rays above the horizon) and whether they hit the floor."""
    cam = _camera_position(camera_scale)
    fwd = _CAM_TARGET - cam
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    s = np.tan(_FOV / 2) * ((np.arange(n_px) + 0.5) / n_px * 2 - 1)
    v, u = np.meshgrid(-s, s, indexing="ij")
    d = fwd[:, None] + u.ravel() * right[:, None] + v.ravel() * up[:, None]
    d /= np.sqrt(_dot(d, d))
    on_floor = d[2] < -1e-9
    t_floor = np.where(on_floor, (_FLOOR_Z - cam[2]) / np.minimum(d[2], -1e-9), 0.0)
    return d.astype(_F), (cam[:, None] + t_floor * d).astype(_F), on_floor


def _trace(parts: list[Part], rots: np.ndarray, view: np.ndarray, o: np.ndarray, d: np.ndarray,
           t_max: np.ndarray | float = np.inf, paint: float = 0.0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit of world rays (o [3, 1 or N], d [3, N]; ray n sees the object rotated by rots[view[n]]) over
    all parts: t (inf = miss), world normal [3, N], albedo [3, N], surface id (8 * part + face; -1 = miss).
    ``paint``: see ``Look``.

    Rays are moved into the object frame once, so each part needs only its fixed pose.
    """
    n = d.shape[1]
    rg = _cols(rots.reshape(-1, 9).T, view).reshape(3, 3, n)  # [3, 3, N]: each ray's view rotation
    o_obj = np.einsum("jin,jn->in", rg, np.broadcast_to(o, d.shape))  # R^T o
    d_obj = np.einsum("jin,jn->in", rg, d)
    t_best, normal, albedo, surface = np.full(n, np.inf, _F), np.zeros((3, n), _F), np.zeros((3, n), _F), np.full(n, -1)
    for k, (kind, centre, prot, size, alb) in enumerate(parts):
        oc = o_obj - centre[:, None]
        sel = np.flatnonzero(_hits_sphere(oc, d_obj, t_max, _bounding_radius(kind, size)))
        if sel.size == 0:
            continue
        t, n_local, face = _intersect(kind, np.einsum("ji,jn->in", prot, _cols(oc, sel)),
                                      np.einsum("ji,jn->in", prot, _cols(d_obj, sel)), size)
        closer = np.flatnonzero(t < t_best[sel])
        idx, face = sel[closer], face[closer]
        t_best[idx], surface[idx] = t[closer], 8 * k + face
        _set_cols(normal, idx, np.einsum("ij,jn->in", prot, _cols(n_local, closer)))
        _set_cols(albedo, idx, _cols(alb.T, face))
    if paint:  # normal here is in the object frame: the colour turns with the object
        albedo = (1 - paint) * albedo + paint * (0.1 + 0.8 * (0.5 + 0.5 * normal)).astype(_F)
    return t_best, np.einsum("ijn,jn->in", rg, normal), albedo, surface  # normals back to the world: R n


def _shade(parts: list[Part], rots: np.ndarray, light: np.ndarray, light_rgb: np.ndarray, floor_rgb: np.ndarray,
           view: np.ndarray, d: np.ndarray, p_floor: np.ndarray, on_floor: np.ndarray,
           look: Look = PLAIN) -> tuple[np.ndarray, np.ndarray]:
    """Linear RGB [3, N] of camera rays d [3, N] (ray n in view ``view[n]``; per-view light position, light and
    floor colours [V, 3]) and a key per ray (surface, shadow) whose jumps mark the edges worth anti-aliasing."""
    cam = look.camera_position().astype(_F)[:, None]
    p, hit = p_floor.copy(), on_floor.copy()
    normal = np.zeros_like(p)
    normal[2] = 1.0
    albedo = _cols(floor_rgb.T, view)
    key = np.where(on_floor, 1000, 2000)
    cand = np.flatnonzero(_hits_sphere(cam, d, np.inf))  # the object lies inside the unit sphere
    dc = _cols(d, cand)
    t_obj, n_obj, a_obj, surface = _trace(parts, rots, view[cand], cam, dc, paint=look.paint)
    front = np.flatnonzero(t_obj < np.where(on_floor[cand], _dot(_cols(p_floor, cand) - cam, dc), np.inf))
    idx = cand[front]
    _set_cols(p, idx, cam + t_obj[front] * _cols(dc, front))
    _set_cols(normal, idx, _cols(n_obj, front))
    _set_cols(albedo, idx, _cols(a_obj, front))
    hit[idx], key[idx] = True, surface[front]

    lw = _cols(light.T, view)
    to_light = lw - p
    to_light /= np.sqrt(_dot(to_light, to_light))
    lambert = np.maximum(_dot(normal, to_light), 0.0)
    cone = np.clip((_dot(lw, to_light) / _LIGHT_DIST - _SPOT_OUTER) / (_SPOT_INNER - _SPOT_OUTER), 0.0, 1.0)
    intensity = 1.4 * lambert * cone * cone * (3 - 2 * cone)  # smoothstep spot falloff
    # Shadows: a point nudged off its surface is in shadow iff a ray from the light meets the object before it.
    lit = np.flatnonzero(hit & (intensity > 0))
    src = _cols(lw, lit)
    to_point = _cols(p, lit) + 1e-3 * _cols(normal, lit) - src
    reach = np.sqrt(_dot(to_point, to_point))
    to_point /= reach
    near = np.flatnonzero(_hits_sphere(src, to_point, reach))
    t_shadow = _trace(parts, rots, view[lit[near]], _cols(src, near), _cols(to_point, near), reach[near])[0]
    shadowed = lit[near[t_shadow < reach[near]]]
    intensity[shadowed] = 0.0
    key[shadowed] += 3000
    rgb = albedo * (_AMBIENT + intensity * _cols(light_rgb.T, view))
    rgb[:, ~hit] = 0.0
    return rgb, key


_GAMMA_LUT = (np.linspace(0, 1, 4096) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)  # a power per pixel is slow


def render_views(parts: list[Part], latents: np.ndarray, size: int, supersample: int = 2,
                 look: Look = PLAIN) -> np.ndarray:
    """All views of one object in one batch: latents [V, 7] -> uint8 [V, size, size, 3].

    Pixels are shaded once at their centre; only those on an edge (their surface or shadow differs from a
    neighbour's) are re-shaded with supersample^2 sub-pixel rays and box-filtered in linear light: the same
    image as full supersampling where shading is smooth, at a fraction of the rays.
    """
    lat = np.asarray(latents, dtype=np.float64)
    v_n = lat.shape[0]
    rots = np.stack([euler_xyz_matrix(a) for a in lat[:, :3]]).astype(_F)
    theta, phi = lat[:, 4], lat[:, 5]
    light = _LIGHT_DIST * np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)
    colours = tuple(c.astype(_F) for c in (light, np.stack([_hsv(h, 0.5, 1.0) for h in lat[:, 6]]),
                                           np.stack([_hsv(h, 0.55, 0.85) for h in lat[:, 3]])))
    n = size * size
    view, pix = np.repeat(np.arange(v_n), n), np.tile(np.arange(n), v_n)
    d, p_floor, on_floor = _camera(size, look.camera_scale)
    rgb, key = _shade(parts, rots, *colours, view, _cols(d, pix), _cols(p_floor, pix), on_floor[pix], look)
    if supersample > 1:
        key = key.reshape(v_n, size, size)
        edge = np.zeros(key.shape, dtype=bool)
        for axis in (1, 2):
            diff = np.diff(key, axis=axis) != 0
            lo, hi = [slice(None)] * 3, [slice(None)] * 3
            lo[axis], hi[axis] = slice(None, -1), slice(1, None)
            edge[tuple(lo)] |= diff
            edge[tuple(hi)] |= diff
        flat = np.flatnonzero(edge)
        v, r, c = np.unravel_index(flat, edge.shape)
        ss = supersample * supersample
        i, j = np.divmod(np.arange(ss), supersample)
        sub = ((r[:, None] * supersample + i) * size * supersample + c[:, None] * supersample + j).ravel()
        d, p_floor, on_floor = _camera(size * supersample, look.camera_scale)
        rgb_sub, _ = _shade(parts, rots, *colours, np.repeat(v, ss), _cols(d, sub), _cols(p_floor, sub), on_floor[sub],
                            look)
        _set_cols(rgb, flat, rgb_sub.reshape(3, flat.size, ss).mean(2))
    lin = rgb.reshape(3, v_n, size, size)
    return _GAMMA_LUT[(np.clip(lin, 0.0, 1.0) * 4095 + 0.5).astype(np.intp)].transpose(1, 2, 3, 0)


def render_view(parts: list[Part], angles: np.ndarray, floor_hue: float, spot_theta: float, spot_phi: float,
                spot_hue: float, size: int, supersample: int = 2) -> np.ndarray:
    """One view as uint8 [size, size, 3]."""
    lat = np.array([[*angles, floor_hue, spot_theta, spot_phi, spot_hue]])
    return render_views(parts, lat, size, supersample)[0]


def sample_latents(rng: np.random.Generator, num_views: int,
                   rotation_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """[num_views, 7] factors in 3DIEBench's ranges: rotations (-pi/2, pi/2), hues [0, 1), spot theta [0, pi/4],
    spot phi [0, 2 pi). ``rotation_scale`` narrows each rotation axis to ``scale * (-pi/2, pi/2)`` (a demo
    option: 3DIEBench itself is (1, 1, 1)); the random stream is the same whatever the scale."""
    rot = rng.uniform(-np.pi / 2, np.pi / 2, (num_views, 3)) * np.asarray(rotation_scale, dtype=float)
    return np.concatenate([rot, rng.uniform(0, 1, (num_views, 1)),
                           rng.uniform(0, np.pi / 4, (num_views, 1)), rng.uniform(0, 2 * np.pi, (num_views, 1)),
                           rng.uniform(0, 1, (num_views, 1))], axis=1)


def _lighting(latents: np.ndarray, look: Look) -> np.ndarray:
    """``latents`` with view 0's floor hue and spot light in every view when ``look.per_object_lighting``."""
    if look.per_object_lighting:
        latents[:, 3:] = latents[0, 3:]
    return latents


def render_object(builder_index: int, seed: list[int], num_views: int, image_size: int,
                  rotation_scale: tuple[float, float, float] = (1.0, 1.0, 1.0), look: Look = PLAIN
                  ) -> tuple[str, list[Image.Image], np.ndarray]:
    """Object id (32 hex), its views and latents [num_views, 7], all from one seed."""
    rng = np.random.default_rng(seed)
    object_id = rng.bytes(16).hex()
    parts = _normalise(CLASSES[builder_index][2](rng))
    latents = _lighting(sample_latents(rng, num_views, rotation_scale), look)
    images = [Image.fromarray(img) for img in render_views(parts, latents, image_size, look=look)]
    return object_id, images, latents


def _write_object(args: tuple[str, str, int, list[int], int, int, tuple[float, float, float], Look]) -> str:
    root, synset, builder_index, seed, num_views, image_size, rotation_scale, look = args
    object_id, images, latents = render_object(builder_index, seed, num_views, image_size, rotation_scale, look)
    folder = Path(root) / synset / object_id
    folder.mkdir(parents=True, exist_ok=True)
    for i, (img, lat) in enumerate(zip(images, latents)):
        img.save(folder / f"image_{i}.jpg", quality=90)
        np.save(folder / f"latent_{i}.npy", lat)
    return f"/{synset}/{object_id}/"


def _worker_init() -> None:
    """Keep freed temporaries in the heap (glibc): rendering allocates many ~1 MB arrays, and glibc's default of
    mmap-ing each one and page-faulting it back in made numpy's elementwise ops up to 10x slower (measured)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: only slower
        pass


def _fresh_root(root: str | os.PathLike, num_classes: int, what: str) -> Path:
    """Check ``num_classes``; replace a previous output of this generator in ``root`` (its marker file), so no
    stale synset folder can shift the sorted-synset labels; refuse any other non-empty ``root``."""
    if not 1 <= num_classes <= len(CLASSES):
        raise ValueError(f"num_classes must be in 1..{len(CLASSES)}, got {num_classes}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise FileExistsError(f"{root}: not empty and not made by this generator; refusing to write into it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(f"procedural {what} (seqjepa_core.data.synthetic_3diebench)\n")
    return root


def _render_all(write: Callable, jobs: list, workers: int | None) -> list[str]:
    """``write`` every object job, in a process pool when worth it."""
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(jobs) > 4:
        # objects are independent and their seeds fix their content, so the pool cannot change the output
        with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
            return list(pool.map(write, jobs, chunksize=max(1, len(jobs) // (8 * workers))))
    return [write(j) for j in jobs]


def generate(root: str | os.PathLike, splits_dir: str | os.PathLike, num_classes: int = 5,
             objects_per_class_train: int = 40, objects_per_class_val: int = 10, image_size: int = 64,
             num_views: int = 50, seed: int = 0, workers: int | None = None,
             rotation_scale: tuple[float, float, float] = (1.0, 1.0, 1.0), look: Look = PLAIN
             ) -> dict[str, list[str]]:
    """Write the miniature dataset and its four split files; returns {"train": paths, "val": paths}.

    ``rotation_scale`` narrows the rotation range per axis (x, y, z); see ``sample_latents``. ``look``: the
    demo's rendering options (``Look``).

    A previous output in ``root`` (recognised by its marker file) is replaced, so no stale synset folder can
    shift the sorted-synset labels; any other non-empty ``root`` is refused rather than touched.
    """
    if len(rotation_scale) != 3 or not all(0 < r <= 1 for r in rotation_scale):
        raise ValueError(f"rotation_scale must be three numbers in (0, 1], got {rotation_scale}")
    root = _fresh_root(root, num_classes, "3DIEBench")
    classes = CLASSES[:num_classes]
    synsets = sorted(s for s, _, _ in classes)
    per_split = {"train": objects_per_class_train, "val": objects_per_class_val}
    jobs: dict[str, list] = {"train": [], "val": []}
    for k, (synset, _, _) in enumerate(classes):
        for s, (split, n) in enumerate(per_split.items()):
            jobs[split] += [(str(root), synset, k, [seed, k, s, j], num_views, image_size,
                            tuple(rotation_scale), look) for j in range(n)]
    paths = _render_all(_write_object, jobs["train"] + jobs["val"], workers)
    out = {"train": paths[:len(jobs["train"])], "val": paths[len(jobs["train"]):]}
    splits = Path(splits_dir)
    splits.mkdir(parents=True, exist_ok=True)
    for split, split_paths in out.items():
        labels = np.array([synsets.index(p.split("/")[1]) for p in split_paths], dtype=np.int64)
        np.save(splits / f"{split}_images.npy", np.array(split_paths))
        np.save(splits / f"{split}_labels.npy", labels)
    return out


# --------------------------------------------------------------------------- out-of-distribution rotations

# The released 3DIEBench-OOD render script writes 4 views per object numbered 2..5 (paper reference §3); the
# demo's OOD tree copies that numbering so the same index code (view discovery) serves both.
OOD_VIEW_IDS = (2, 3, 4, 5)


def sample_ood_latents(rng: np.random.Generator, num_views: int) -> np.ndarray:
    """Like ``sample_latents`` but each Euler angle is ±U(pi/2, pi) (3DIEBench-OOD, Table 9): every angle lies
    outside the training range (-pi/2, pi/2)."""
    lat = sample_latents(rng, num_views)
    magnitude = rng.uniform(np.pi / 2, np.pi, (num_views, 3))
    lat[:, :3] = np.where(rng.random((num_views, 3)) < 0.5, -magnitude, magnitude)
    return lat


def _write_ood_object(args: tuple[str, str, int, list[int], tuple[int, ...], int, Look]) -> str:
    root, synset, builder_index, seed, view_ids, image_size, look = args
    rng = np.random.default_rng(seed)
    object_id = rng.bytes(16).hex()
    parts = _normalise(CLASSES[builder_index][2](rng))
    latents = _lighting(sample_ood_latents(rng, len(view_ids)), look)
    folder = Path(root) / synset / object_id
    folder.mkdir(parents=True, exist_ok=True)
    for v, img, lat in zip(view_ids, render_views(parts, latents, image_size, look=look), latents):
        Image.fromarray(img).save(folder / f"image_{v}.jpg", quality=90)
        np.save(folder / f"latent_{v}.npy", lat)
    return f"/{synset}/{object_id}/"


def generate_ood(root: str | os.PathLike, num_classes: int = 5, objects_per_class: int = 10, image_size: int = 64,
                 view_ids: tuple[int, ...] = OOD_VIEW_IDS, seed: int = 0, workers: int | None = None,
                 look: Look = PLAIN) -> list[str]:
    """A miniature 3DIEBench-OOD: new objects of the first ``num_classes`` classes, views ``view_ids`` with
    rotations ±U(pi/2, pi), in the Hub release's layout (a tree, no split files), rendered with ``look`` (the
    in-distribution data's, so that only the rotations are out of distribution). Returns the object paths.

    Object seeds carry a tag (2) that the in-distribution generator never uses, so no OOD object duplicates a
    training or validation object.
    """
    root = _fresh_root(root, num_classes, "3DIEBench-OOD")
    jobs = [(str(root), synset, k, [seed, k, 2, j], tuple(view_ids), image_size, look)
            for k, (synset, _, _) in enumerate(CLASSES[:num_classes]) for j in range(objects_per_class)]
    return _render_all(_write_ood_object, jobs, workers)
