"""findTransformECC (MOTION_HOMOGRAPHY) for a whole batch of image pairs at once, in torch.

ECC (Evangelidis & Psarakis 2008) maximises the correlation coefficient of the paper's
eq. 1 by Gauss-Newton steps on the 8 free homography entries. This follows OpenCV's
implementation step by step, so that the result matches the reference backend:

- template and input are smoothed by ``GaussianBlur(gauss_filt_size, sigma 0)``, the
  input's gradients are central differences ``[-0.5, 0, 0.5]``, all with reflect-101
  borders (so gradients are zero on the outermost rows and columns);
- each iteration warps the smoothed input and both gradient images bilinearly with a
  zero border (``grid_sample`` with ``align_corners=True`` puts pixel centres on integer
  coordinates, as OpenCV does) and marks as valid the pixels whose nearest source pixel
  exists, like OpenCV's INTER_NEAREST warp of its all-ones mask;
- means and norms use valid pixels only; the Jacobian projections run over all pixels
  with the warped image left un-centred outside the mask, as OpenCV's masked subtract
  leaves it;
- the closed-form update lambda = (|i|^2 - i'J H^-1 J'i) / (t'i - t'J H^-1 J'i),
  delta_p = H^-1 J'(lambda t - i); a NaN correlation or lambda's denominator <= 0 is
  OpenCV's StsNoConv and stops the pair, which then gets the identity;
- a pair stops once its correlation changed by less than ``eps`` or after ``iterations``
  updates, keeping the update made in its last iteration.

Speed: a homography Jacobian row is the Kronecker product of g = (gx, gy, gz)/w and the
pixel coordinates c = (x, y, 1), so every Hessian entry sum_p g_a g_b c_i c_j is a
per-pixel product g_a g_b contracted with the coordinate moment c_i c_j, which all
pairs share: one matrix product of all pairs' 9 maps g_a g_b with the 6 moment images
gives every Hessian, another (g_a w with the 3 coordinate images) every projection.
Working buffers are allocated once; a pair that stops frees its slot for the next one.
The per-pair state and the small 8x8 solves live in float64 numpy: for arrays of a few
hundred numbers numpy's per-call cost is a fraction of torch's, and the float64 solve is
more accurate than OpenCV's float32 inverse (the source of most of the tiny differences
between the backends; ECC's Hessian on a 28x28 image has a condition number near 1e6).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from hardpos.similarity.filters import gaussian_taps, separable

# Parameter k of OpenCV's homography update is H[k % 3, k // 3]: coordinate index
# i = k // 3 (x, y, 1) times gradient index a = k % 3 (gx, gy, gz); k = 8 (H22) is fixed.
_PARAMS = [(k // 3, k % 3) for k in range(8)]
_MOMENT_PAIRS = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]  # x^2, xy, x, y^2, y, 1
_MOMENT = {pair: m for m, pair in enumerate(_MOMENT_PAIRS)}
_GRADIENT_PAIR = _MOMENT
_HESSIAN_INDEX = np.array(
    [
        _MOMENT[tuple(sorted((i, j)))] * 6 + _GRADIENT_PAIR[tuple(sorted((a, b)))]
        for (i, a) in _PARAMS
        for (j, b) in _PARAMS
    ]
)
_PROJECTION_INDEX = np.array([i * 9 + a * 3 + w for (i, a) in _PARAMS for w in range(3)])
# where parameter k sits in a row-major 3x3 homography: H[k % 3, k // 3]
_UPDATE_SLOTS = np.array([(k % 3) * 3 + k // 3 for k in range(8)])
# gz is computed as +(u gx + v gy)/w; OpenCV's Jacobian has the opposite sign in the gz
# columns, so the solved update flips sign there.
_GZ_SIGN = np.array([1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0])
_TINY = 1e-10  # relative: a norm this small is a constant image, 0/0 in OpenCV

# Rows of the per-pixel workspace (each row holds [pairs, pixels]).
_G, _IW, _M, _MT, _MIW, _MIW2, _MTIW, _MTT, _GG, _GW, _ROWS = 0, 3, 4, 5, 6, 7, 8, 9, 10, 16, 25


class _Workspace:
    """Buffers for ``capacity`` pairs, reused every iteration (no page faults per step)."""

    def __init__(self, capacity: int, height: int, width: int, like: torch.Tensor):
        self.height, self.width = height, width
        n_pix = height * width
        opts = {"device": like.device, "dtype": like.dtype}
        self.floats = torch.empty(capacity * n_pix * (_ROWS + 3 + 2 + 2 + 2 + 3 + 1), **opts)
        ys, xs = torch.meshgrid(
            torch.arange(height, **opts), torch.arange(width, **opts), indexing="ij"
        )
        coords = torch.stack((xs.reshape(-1), ys.reshape(-1), torch.ones_like(xs).reshape(-1)))
        self.xs, self.ys = xs[0], ys[:, 0]
        self.coords = coords  # [3, P]: x, y, 1
        self.moments = torch.stack([coords[i] * coords[j] for i, j in _MOMENT_PAIRS])
        # per axis (u, then v): its size, and the scale to grid_sample's [-1, 1]
        self.axes = [(width, 2.0 / (width - 1)), (height, 2.0 / (height - 1))]
        self._views: dict[int, dict[str, torch.Tensor]] = {}

    def views(self, n: int) -> dict[str, torch.Tensor]:
        """Views for ``n`` active pairs, each contiguous (made once per ``n``)."""
        if n not in self._views:
            self._views[n] = self._make_views(n)
        return self._views[n]

    def _make_views(self, n: int) -> dict[str, torch.Tensor]:
        n_pix = self.height * self.width
        sizes = {
            "q": (_ROWS, n, n_pix),
            "proj": (3, n, n_pix),
            "uv": (2, n, n_pix),
            "planar": (2, n, n_pix),
            "source": (n, 3, n_pix),
            "template": (1, n, n_pix),
        }
        out, offset = {}, 0
        for name, shape in sizes.items():
            count = shape[0] * shape[1] * shape[2]
            out[name] = self.floats[offset : offset + count].view(shape)
            offset += count
        return out


def smoothed(adv_grey: torch.Tensor, orig_grey: torch.Tensor, gauss_filt_size: int):
    """ECC's inputs: smoothed template ``[B, P]``, smoothed input and its gradients
    ``[B, 3, H, W]`` (central differences, zero on the outermost rows and columns as
    reflect-101 makes them). Filtered 256 pairs at a time, which keeps them in cache."""
    b, height, width = adv_grey.shape
    rows, cols_t = separable(height, width, gaussian_taps(gauss_filt_size), adv_grey)
    opts = {"device": adv_grey.device, "dtype": adv_grey.dtype}
    template = torch.empty((b, height * width), **opts)
    source = torch.empty((b, 3, height, width), **opts)
    for start in range(0, b, 256):
        part = slice(start, start + 256)
        torch.matmul(rows @ orig_grey[part], cols_t, out=template[part].view(-1, height, width))
        image = source[part, 0]
        image.copy_(rows @ adv_grey[part] @ cols_t)
        torch.sub(image[:, :, 2:], image[:, :, :-2], out=source[part, 1, :, 1:-1])
        torch.sub(image[:, 2:], image[:, :-2], out=source[part, 2, 1:-1])
    for edge in (0, -1):
        source[:, 1, :, edge] = 0.0
        source[:, 2, edge] = 0.0
    source[:, 1:].mul_(0.5)
    return template, source


def _resample(source, warp, ws: _Workspace, v: dict):
    """Warp input and gradients to the template grid; mark valid pixels in ``q[_M]``.

    Returns the source coordinates ``uv`` ``[2, n, P]``, ``1/w`` ``[n, P]`` and the warped
    ``[n, 3, P]`` (image, gx, gy).
    """
    n = source.shape[0]
    height, width = ws.height, ws.width
    q, proj, uv = v["q"], v["proj"], v["uv"]
    # source coordinates (u, v) = (H c)_{1,2} / (H c)_3 for every template pixel
    h = torch.from_numpy(warp).to(source.device, source.dtype).permute(1, 2, 0)  # [row, col, pair]
    along_x = h[:, 0, :, None] * ws.xs + h[:, 2, :, None]  # [3, n, W]
    along_y = h[:, 1, :, None] * ws.ys  # [3, n, H]
    torch.add(along_x[:, :, None, :], along_y[:, :, :, None], out=proj.view(3, n, height, width))
    inv_w = proj[2].reciprocal()
    torch.mul(proj[:2], inv_w, out=uv)
    # Scalar operands per axis: a broadcast [2, 1, 1] operand sends torch down a slow
    # path (clamp and addcmul took 4x to 8x longer), and grid_sample reads the grid
    # through strides, so the planar buffer serves as its [n, H, W, 2] grid uncopied.
    planar = v["planar"]
    for axis, (_size, scale) in enumerate(ws.axes):
        torch.mul(uv[axis], scale, out=planar[axis]).sub_(1.0)
    warped = F.grid_sample(
        source,
        planar.view(2, n, height, width).permute(1, 2, 3, 0),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    ).view(n, 3, -1)
    # the nearest source pixel exists <=> -0.5 <= u <= W - 0.5 (and likewise v)
    for axis, (size, _scale) in enumerate(ws.axes):
        torch.clamp(uv[axis], -0.5, size - 0.5, out=planar[axis])
    torch.eq(planar, uv, out=planar)  # 1.0 where inside, per coordinate
    torch.mul(planar[0], planar[1], out=q[_M])
    return uv, inv_w, warped


def _step(source, template, warp, ws: _Workspace, identity: bool = False):
    """One ECC iteration for ``n`` pairs: (updated warps, correlations, StsNoConv flags).

    ``identity``: every warp is the identity (the first iteration), so the warped images
    are the smoothed input itself and every pixel is valid; no resampling is needed.
    """
    n = source.shape[0]
    v = ws.views(n)
    q = v["q"]
    if identity:
        uv = ws.coords[:2, None]  # [2, 1, P], broadcast over pairs
        inv_w = 1.0
        warped = source.view(n, 3, -1)
        q[_M].fill_(1.0)
    else:
        uv, inv_w, warped = _resample(source, warp, ws, v)

    g = q[_G : _G + 3]
    torch.mul(warped[:, 1:].transpose(0, 1), inv_w, out=g[:2])  # gx/w, gy/w
    torch.mul(uv[0], g[0], out=g[2])
    g[2].addcmul_(uv[1], g[1])  # (u gx + v gy)/w
    q[_IW].copy_(warped[:, 0])
    torch.mul(q[_M], template, out=q[_MT])
    torch.mul(q[_M], q[_IW], out=q[_MIW])
    torch.mul(q[_MIW], q[_IW], out=q[_MIW2])
    torch.mul(q[_MT], q[_IW], out=q[_MTIW])
    torch.mul(q[_MT], template, out=q[_MTT])
    torch.mul(g[0], g, out=q[_GG : _GG + 3])  # gx gx, gx gy, gx gz
    torch.mul(g[1], g[1:], out=q[_GG + 3 : _GG + 5])  # gy gy, gy gz
    torch.mul(g[2], g[2], out=q[_GG + 5])  # gz gz
    torch.mul(g[:, None], q[None, _IW : _IW + 3], out=q[_GW : _GW + 9].view(3, 3, n, -1))

    sums = q[_M : _M + 6].sum(-1)  # count, sum_t, sum_i, sum_ii, sum_ti, sum_tt
    hessian_moments = ws.moments @ q[_GG : _GG + 6].reshape(6 * n, -1).T  # [6, 6n]
    projection_moments = ws.coords @ q[_GW : _GW + 9].reshape(9 * n, -1).T  # [3, 9n]
    small = torch.cat(
        (sums.reshape(-1), hessian_moments.reshape(-1), projection_moments.reshape(-1))
    )
    return _update(small.double().cpu().numpy(), n, warp)


def _update(small: np.ndarray, n: int, warp: np.ndarray):
    """The closed-form ECC update from the per-pair sums, in float64 numpy.

    ``small`` holds the 6 masked sums, the Hessian moments and the projection moments of
    ``n`` pairs; these are tiny arrays, for which numpy's per-call cost is a fraction of
    torch's. Returns (updated warps, correlations rho, StsNoConv flags).
    """
    count, sum_t, sum_i, sum_ii, sum_ti, sum_tt = small[: 6 * n].reshape(6, n)
    hessian = small[6 * n : 42 * n].reshape(36, n)[_HESSIAN_INDEX].T.reshape(n, 8, 8)
    projections = small[42 * n :].reshape(27, n)[_PROJECTION_INDEX].T.reshape(n, 8, 3)
    j_img, j_valid, j_tmp = projections[..., 0], projections[..., 1], projections[..., 2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mean_i, mean_t = sum_i / count, sum_t / count
        img_norm2 = sum_ii - count * mean_i * mean_i
        tmp_norm2 = sum_tt - count * mean_t * mean_t
        correlation = sum_ti - count * mean_i * mean_t
        img_proj = j_img - mean_i[:, None] * j_valid
        tmp_proj = j_tmp - mean_t[:, None] * j_valid
        solved = _solve(hessian, np.stack((img_proj, tmp_proj), axis=-1))
        a, b = solved[..., 0], solved[..., 1]
        lambda_n = img_norm2 - np.einsum("ij,ij->i", img_proj, a)
        lambda_d = correlation - np.einsum("ij,ij->i", tmp_proj, a)
        rho = correlation / np.sqrt(img_norm2 * tmp_norm2)
        flat = (img_norm2 <= _TINY * sum_ii) | (tmp_norm2 <= _TINY * sum_tt)
        failed = ~np.isfinite(rho) | flat | ~(lambda_d > 0)
        delta = ((lambda_n / lambda_d)[:, None] * b - a) * _GZ_SIGN
    new_warp = warp.copy()
    new_warp.reshape(n, 9)[:, _UPDATE_SLOTS] += delta
    return new_warp, rho, failed


def _solve(matrices: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve; a singular matrix gives a zero solution, like OpenCV's ``inv()``."""
    try:
        return np.linalg.solve(matrices, rhs)
    except np.linalg.LinAlgError:
        out = np.zeros_like(rhs)
        for i in range(len(matrices)):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[i] = np.linalg.solve(matrices[i], rhs[i])
        return out


def _advance(active: np.ndarray, ws: _Workspace, state, identity: bool = False) -> np.ndarray:
    """One step for the pairs ``active``; records finished ones, returns those still going."""
    source, template, warp, rho, steps, result, converged, iterations, eps = state
    views = ws.views(len(active))
    step_source = views["source"].view(-1, 3, ws.height, ws.width)
    step_template = views["template"][0]
    index = torch.from_numpy(active).to(source.device)
    torch.index_select(source, 0, index, out=step_source)
    torch.index_select(template, 0, index, out=step_template)
    new_warp, new_rho, failed = _step(step_source, step_template, warp[active], ws, identity)
    last_rho = rho[active]
    warp[active], rho[active] = new_warp, new_rho
    steps[active] += 1
    stop = failed | (np.abs(new_rho - last_rho) < eps) | (steps[active] >= iterations)
    good = stop & ~failed & np.isfinite(new_warp).reshape(-1, 9).all(1)
    result[active[good]] = new_warp[good]
    converged[active[good]] = True
    return active[~stop]


def ecc_homographies(
    adv_grey: torch.Tensor,
    orig_grey: torch.Tensor,
    *,
    iterations: int,
    eps: float,
    gauss_filt_size: int,
    capacity: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched ``findTransformECC(template=orig, input=adv, MOTION_HOMOGRAPHY)``.

    ``adv_grey`` and ``orig_grey`` are ``[B, H, W]`` tensors (float32 or float64, values in
    [0, 255]) on one device. Returns numpy float64 homographies ``[B, 3, 3]`` (the identity
    where ECC did not converge or could not run on a constant image) and a bool ``[B]``
    convergence flag. At most ``capacity`` pairs iterate together: a pair that stops frees
    its slot for the next waiting one, so slow pairs never leave a nearly empty batch
    running. The first iteration of every pair, at the identity, needs no resampling and
    runs as a pass of its own.
    """
    n, height, width = adv_grey.shape
    template, source = smoothed(adv_grey, orig_grey, gauss_filt_size)
    result = np.tile(np.eye(3), (n, 1, 1))
    converged = np.zeros(n, dtype=bool)
    flat_adv, flat_orig = adv_grey.reshape(n, -1), orig_grey.reshape(n, -1)
    runnable = (flat_adv.amax(1) > flat_adv.amin(1)) & (flat_orig.amax(1) > flat_orig.amin(1))
    queue = np.flatnonzero(runnable.cpu().numpy())
    capacity = max(1, min(capacity, len(queue)))
    ws = _Workspace(capacity, height, width, adv_grey)
    warp = result.copy()
    rho = np.full(n, -1.0)
    steps = np.zeros(n, dtype=np.int64)
    state = (source, template, warp, rho, steps, result, converged, iterations, eps)
    # First iteration (identity warp) for every pair, then the rest with slot refilling.
    waiting = [
        _advance(queue[start : start + capacity], ws, state, identity=True)
        for start in range(0, len(queue), capacity)
    ]
    queue = np.concatenate(waiting) if waiting else queue
    active, queued = queue[:capacity], min(capacity, len(queue))
    while len(active):
        keep = _advance(active, ws, state)
        refill = queue[queued : queued + capacity - len(keep)]
        queued += len(refill)
        active = np.concatenate((keep, refill))
    return result, converged
