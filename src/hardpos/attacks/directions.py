"""Adversarial directions: FGS, FGV, hot/cold (HC-D-k, HC-S-k) and any layer's feature vector.

Every direction is a vector-Jacobian product: the gradient with respect to the
pixel-valued model input x of ``<w, f_l(x)>`` for a feature vector ``w`` at a layer
``l`` held fixed, which is the paper's backpropagation operator ``B_l(w)`` (section 4.3).

- FGS / FGV (section 4.1): ``grad_x J(x, y)`` of the cross-entropy ``J``. Since
  ``grad_x J = J_h(x)^T (p - e_y)`` with ``p = softmax(h(x))`` and only the direction
  matters, ``w = q - e_y`` is used instead, where ``q`` is the softmax over the classes
  other than ``y``: ``p - e_y = (1 - p_y)(q - e_y)``, the same direction, but one that does
  not vanish in floating point when ``p_y`` rounds to 1. FGV is that gradient, FGS its sign.
- Hot/cold (section 4.2, eq. 7): for the hot class ``t`` of rank ``k`` (the k-th highest
  logit other than ``y``; ties broken by the lower class id) ``w_t = |h_t(x)|``,
  ``w_y = -h_y(x)``, 0 elsewhere, at the logits layer. HC-D-k is ``B(w)``, HC-S-k its sign.

All gradients of a batch of images are taken in one forward pass and one batched
backward pass (``torch.autograd.grad(..., is_grads_batched=True)``), not one loop per
direction: the loss vector ``q - e_y`` and the one-hot vectors of ``y`` and of each hot
class asked for; HC-D-k is then ``|h_t| grad h_t - h_y grad h_y = B(w_hc)`` by
linearity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from hardpos.attacks.classifier import model_device, model_dtype
from hardpos.attacks.methods import Direction
from hardpos.errors import InputError


class _Stop(Exception):
    """Raised by a forward hook once the targeted layer's output is captured."""


def as_nchw(images: np.ndarray | torch.Tensor, *, name: str = "images") -> torch.Tensor:
    """``images`` as a tensor ``[N, C, H, W]``; ``[N, H, W]`` gains a channel axis."""
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4:
        raise InputError(f"{name} must be [N, H, W] or [N, C, H, W]; got shape {tuple(x.shape)}")
    return x


def _leaf(images: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """Pixel values as a fresh leaf tensor that requires grad, in the model's dtype."""
    x = images.to(device=model_device(model), dtype=model_dtype(model))
    return x.detach().clone().requires_grad_(True)


def _vjp(output: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``d <w, output> / dx`` for ``w`` of shape ``output.shape`` or ``[K, *output.shape]``."""
    w = w.to(device=output.device, dtype=output.dtype)
    if w.shape == output.shape:
        (grad,) = torch.autograd.grad(output, x, w)
        return grad
    if w.ndim == output.ndim + 1 and w.shape[1:] == output.shape:
        if w.shape[0] == 1:
            return _vjp(output, x, w[0]).unsqueeze(0)
        try:
            (grad,) = torch.autograd.grad(output, x, w, is_grads_batched=True, retain_graph=True)
        except RuntimeError:  # a layer without a batching rule: one pass per vector
            grad = torch.stack([torch.autograd.grad(output, x, v, retain_graph=True)[0] for v in w])
        return grad
    raise InputError(
        f"feature vector w has shape {tuple(w.shape)} but the layer's output is "
        f"{tuple(output.shape)}: give [N, ...] or [K, N, ...] matching it"
    )


def feature_direction(
    model: torch.nn.Module,
    layer_name: str,
    images: np.ndarray | torch.Tensor,
    w: np.ndarray | torch.Tensor,
) -> torch.Tensor:
    """The paper's ``B_l(w)``: backpropagate the feature vector ``w`` from layer ``l``.

    Returns ``d/dx <w, f_l(x)>`` with respect to the pixel-valued input ``x``, not
    normalised, on the model's device and in its dtype.

    ``layer_name`` is a name from ``model.named_modules()`` (for LeNet: ``conv1``,
    ``pool1``, ``conv2``, ``pool2``, ``ip1``, ``relu1``, ``ip2``) or ``"logits"`` for the
    output of ``model.logits`` (the paper's h(x); for LeNet the same as ``ip2``; a model
    without a ``logits`` method: its output). The layer's output is taken with a forward
    hook during ``model.logits(x)`` (or ``model(x)``), which stops the forward pass there.
    ``images`` are ``[N, C, H, W]`` (or ``[N, H, W]``) pixel values, uint8 or float; ``w``
    is ``[N, *layer_output_shape]`` for one vector per image, or ``[K, N,
    *layer_output_shape]`` for K vectors per image, all backpropagated in one batched
    backward pass (the result is then ``[K, N, C, H, W]``).
    """
    x = as_nchw(images)
    if not (x.is_floating_point() or x.dtype == torch.uint8):
        raise InputError(f"images must be uint8 or floating point; got {x.dtype}")
    w = torch.as_tensor(np.asarray(w)) if not isinstance(w, torch.Tensor) else w
    if layer_name == "logits":
        with torch.inference_mode(False), torch.enable_grad():
            x = _leaf(x, model)
            return _vjp(_logits_of(model)(x), x, w)
    modules = dict(model.named_modules())
    if layer_name not in modules or layer_name == "":
        names = ", ".join(["logits", *[n for n in modules if n]])
        raise InputError(f"layer {layer_name!r} not found in the model; layers: {names}")
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        if not isinstance(output, torch.Tensor):
            raise InputError(f"layer {layer_name!r} does not return one tensor")
        captured.append(output)
        raise _Stop

    handle = modules[layer_name].register_forward_hook(hook)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = _leaf(x, model)
            with contextlib.suppress(_Stop):
                _logits_of(model)(x)
            if not captured:
                raise InputError(f"layer {layer_name!r} is not used by model.logits")
            return _vjp(captured[0], x, w)
    finally:
        handle.remove()


def _logits_of(model):
    """The model's ``logits`` method when it has one, else the model itself (forward)."""
    logits = getattr(model, "logits", None)
    return logits if callable(logits) else model


def loss_weights(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``w = q - e_y`` (see the module docstring): the cross-entropy gradient at the logits
    layer divided by ``1 - p_y``; computed in float64."""
    h = logits.detach().to(torch.float64)
    onehot = torch.nn.functional.one_hot(labels, h.shape[1]).bool()
    q = torch.softmax(h.masked_fill(onehot, -torch.inf), dim=1)
    return q - onehot.to(torch.float64)


def hot_classes(logits: torch.Tensor, labels: torch.Tensor, ranks: int) -> torch.Tensor:
    """``[N, ranks]``: the classes of the 1st..ranks-th highest logit other than the label
    (ties: the lower class id first)."""
    h = logits.detach().to(torch.float64)
    onehot = torch.nn.functional.one_hot(labels, h.shape[1]).bool()
    order = torch.sort(h.masked_fill(onehot, -torch.inf), dim=1, descending=True, stable=True)
    return order.indices[:, :ranks]


def hot_cold_weights(logits: torch.Tensor, labels: torch.Tensor, hot: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ``w_t = |h_t(x)|`` for the hot class ``t``, ``w_y = -h_y(x)``, 0 elsewhere.

    ``hot`` is ``[N]``; the result ``[N, n_classes]`` (logits' dtype).
    """
    h = logits.detach()
    w = torch.zeros_like(h)
    rows = torch.arange(len(h), device=h.device)
    w[rows, hot] = h[rows, hot].abs()
    w[rows, labels] = -h[rows, labels]
    return w


@dataclass
class Directions:
    """The directions of a batch of images.

    ``d``: ``[N, J, C, H, W]`` float64, each normalised to ``max |d| = 1`` (all zeros when
    the gradient vanishes); ``hot``: ``[N, J]`` hot class (-1 for FGS/FGV); ``logits``:
    ``[N, n_classes]`` h(x) of the unperturbed images (float64); ``first_order``:
    ``[N, J]`` a first-order estimate of each direction's adversarial scale (see
    :func:`compute_directions`; NaN where no margin falls along the direction).
    """

    d: torch.Tensor
    hot: torch.Tensor
    logits: torch.Tensor
    first_order: torch.Tensor


def _check_logits(
    logits: torch.Tensor, images: int, labels: torch.Tensor, directions: Sequence[Direction]
) -> int:
    """The model's class count, after checking that its logits, the labels and the hot
    ranks asked for agree with it (a user's model or labels named, not a torch error)."""
    if logits.ndim != 2 or logits.shape[0] != images:
        raise InputError(
            f"model.logits returned shape {tuple(logits.shape)} for {images} images; "
            "expected [N, n_classes]"
        )
    n_classes = logits.shape[1]
    max_rank = max((dr.k for dr in directions), default=0)
    if max_rank > n_classes - 1:
        name = next(dr.name for dr in directions if dr.k == max_rank)
        raise InputError(
            f"{name} asks for hot rank {max_rank}, but the model has {n_classes} "
            f"classes, so at most {n_classes - 1} hot ranks (hc-d-{n_classes - 1})"
        )
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise InputError(f"label {bad} outside 0..{n_classes - 1} of the model's classes")
    return n_classes


def compute_directions(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    directions: Sequence[Direction],
) -> Directions:
    """All ``directions`` of every image from one forward and one batched backward pass.

    ``images`` ``[N, C, H, W]`` pixel values (uint8 or float) on the model's device,
    ``labels`` ``[N]`` int64 class ids there too.

    The backward pass takes the gradients of ``q - e_y`` (FGS, FGV) and of the single
    logits ``h_y`` and ``h_t`` of the hot classes asked for; HC-D-k is then
    ``|h_t| grad h_t - h_y grad h_y``, which is ``B(w_hc)`` of eq. 7 by linearity.

    Each direction also gets a first-order estimate of its adversarial scale, at no cost:
    for hot/cold, the margins ``h_y - h_t`` of the hot classes at hand fall along ``d`` at
    the rates ``(grad h_t - grad h_y) . d``; for FGS and FGV, ``w . h(x) = -M(x)`` with
    ``M = h_y - sum_j q_j h_j`` a softmax-weighted margin, which falls at the rate
    ``g . d`` (``g`` the gradient of ``w . h``). The estimate is where the first of these
    margins would reach 0; the search starts there.
    """
    ranks = sorted({dr.k for dr in directions if dr.k})
    max_rank = max(ranks, default=0)
    with torch.inference_mode(False), torch.enable_grad():
        x = _leaf(images, model)
        logits = model.logits(x)
        n_classes = _check_logits(logits, len(x), labels, directions)
        hot = hot_classes(logits, labels, max_rank) if max_rank else None
        weights: dict[str, torch.Tensor] = {}
        if any(dr.k == 0 for dr in directions):
            weights["loss"] = loss_weights(logits, labels)
        if ranks:
            weights["label"] = torch.nn.functional.one_hot(labels, n_classes)
            for k in ranks:
                weights[f"hot{k}"] = torch.nn.functional.one_hot(hot[:, k - 1], n_classes)
        grads = _vjp(logits, x, torch.stack(list(weights.values())))  # [G, N, C, H, W]
    grads = grads.detach().flatten(2).to(torch.float64)
    grad = dict(zip(weights, grads, strict=True))
    h = logits.detach().to(torch.float64)
    rows = torch.arange(len(h), device=h.device)
    h_y = h[rows, labels]
    out, hots, first = [], [], []
    for dr in directions:
        if dr.k == 0:
            g = grad["loss"]
        else:
            t = hot[:, dr.k - 1]
            g = h[rows, t].abs().view(-1, 1) * grad[f"hot{dr.k}"] - h_y.view(-1, 1) * grad["label"]
        d = torch.sign(g) if dr.sign else g
        scale = d.abs().amax(dim=1) if d.shape[1] else torch.zeros(len(d), dtype=d.dtype)
        d = d / torch.where(scale > 0, scale, 1.0).view(-1, 1)
        out.append(d.view(len(d), *images.shape[1:]))
        if dr.k == 0:
            hots.append(torch.full_like(labels, -1))
            margin = -(weights["loss"].to(torch.float64) * h).sum(dim=1)
            rate = (g * d).sum(dim=1)
            estimate = torch.where(rate > 0, margin / rate, torch.nan)
        else:
            hots.append(t)
            rate_y = (grad["label"] * d).sum(dim=1)
            estimate = torch.full_like(h_y, torch.inf)
            for k in ranks:
                t_k = hot[:, k - 1]
                rise = (grad[f"hot{k}"] * d).sum(dim=1) - rate_y
                cross = torch.where(rise > 0, (h_y - h[rows, t_k]) / rise, torch.inf)
                estimate = torch.minimum(estimate, cross)
        first.append(torch.where(torch.isfinite(estimate) & (estimate > 0), estimate, torch.nan))
    return Directions(
        d=torch.stack(out, dim=1),
        hot=torch.stack(hots, dim=1),
        logits=h,
        first_order=torch.stack(first, dim=1),
    )
