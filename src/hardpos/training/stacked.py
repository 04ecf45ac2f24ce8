"""Several LeNets trained in one step: stacked weights, ``vmap`` over ``functional_call``.

The nets of one job share the training set, the solver settings and the iteration
counter; each has its own seed (initial weights when trained from scratch, and the order
of the data), its own momentum buffers and its own loss. One step draws net ``k``'s batch
from its own :class:`~hardpos.training.batches.BatchOrder` (or
:class:`~hardpos.training.batches.MixedBatchOrder`), evaluates all nets at once
(``torch.func.vmap(grad_and_value(loss))`` over ``functional_call``, the default; or
``kernel="grouped"``: a grouped convolution and a batched matrix product per layer,
:func:`stacked_logits`), and applies
:func:`~hardpos.training.solver.caffe_sgd_step` to the stacked tensors, which is
element-wise and so the very update each net gets alone. Net ``k`` therefore follows the
trajectory of :func:`hardpos.training.lenet_training.train` with ``seed=seeds[k]``, up to
float rounding (the batched convolutions sum in another order).

Why: one LeNet at batch 64 leaves a GPU launching kernels for tiny matrices; K nets per
step launch the same number of kernels for K times the work.

The images stay on ``device`` (uint8) and each batch is gathered there. ``compile=True``
runs the gradient step through ``torch.compile`` (``mode="reduce-overhead"``, i.e. a
captured CUDA graph, on CUDA); it is off by default until measured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, vmap

from hardpos.errors import InputError, ModelError
from hardpos.files.checksums import verify_if_zip
from hardpos.files.weights import save_weights
from hardpos.mnist.lenet import LeNet
from hardpos.training.checkpoints import TrainState, load_checkpoint, same_run
from hardpos.training.lenet_training import data_identity, training_tensors
from hardpos.training.loop import batch_order, lr_multipliers, sgd_loop
from hardpos.training.solver import Solver, check_finite

log = logging.getLogger(__name__)

_FORMAT = "hardpos-stacked-lenets-1"


@dataclass
class StackedState:
    """Weights and momentum of K nets, stacked along a new first dimension, keyed by the
    LeNet parameter names, and the iteration all of them reached."""

    params: dict[str, torch.Tensor]
    momentum: dict[str, torch.Tensor]
    iteration: int
    input_scale: float

    @property
    def n_nets(self) -> int:
        return len(next(iter(self.params.values())))

    def net(self, k: int) -> TrainState:
        """Net ``k`` alone, as :func:`~hardpos.training.lenet_training.train` returns it
        (eval mode, CPU copies), for its own model file and solver checkpoint."""
        model = LeNet(input_scale=self.input_scale)
        model.load_state_dict({name: p[k].detach().cpu() for name, p in self.params.items()})
        names = [name for name, _ in model.named_parameters()]
        momentum = [self.momentum[name][k].detach().cpu().clone() for name in names]
        return TrainState(model.eval(), momentum, self.iteration)


def _stack(states: Sequence[TrainState], device: torch.device) -> StackedState:
    names = [name for name, _ in states[0].model.named_parameters()]
    iterations = {s.iteration for s in states}
    if len(iterations) > 1:
        raise InputError(
            f"stacked nets must start at one iteration, got {sorted(iterations)}: "
            "train nets whose initial checkpoints differ in their counter separately"
        )
    params = {
        name: torch.stack([dict(s.model.named_parameters())[name].detach() for s in states])
        for name in names
    }
    momentum = {
        name: torch.stack([s.momentum[i].detach() for s in states]) for i, name in enumerate(names)
    }
    return StackedState(
        {k: v.to(device).contiguous() for k, v in params.items()},
        {k: v.to(device).contiguous() for k, v in momentum.items()},
        iterations.pop(),
        states[0].model.input_scale,
    )


def save_stacked_checkpoint(path: str | os.PathLike, state: StackedState, extra: dict) -> None:
    """Write the stacked state atomically (a kill never leaves a half-written file)."""
    blob = {
        "format": _FORMAT,
        "params": {k: v.detach().cpu() for k, v in state.params.items()},
        "momentum": {k: v.detach().cpu() for k, v in state.momentum.items()},
        "iteration": state.iteration,
        "input_scale": state.input_scale,
        **extra,
    }
    save_weights(blob, path)


def load_stacked_checkpoint(
    path: str | os.PathLike, device: torch.device
) -> tuple[StackedState, dict]:
    """Read a checkpoint written by :func:`save_stacked_checkpoint`."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: stacked checkpoint not found")
    verify_if_zip(path, error=ModelError)  # torch.load reads the zip without its CRCs
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("format") != _FORMAT:
            raise KeyError("format")
        state = StackedState(
            {k: v.to(device) for k, v in blob["params"].items()},
            {k: v.to(device) for k, v in blob["momentum"].items()},
            int(blob["iteration"]),
            float(blob["input_scale"]),
        )
    except (KeyError, RuntimeError, TypeError, EOFError, OSError, AttributeError) as exc:
        raise ModelError(f"{path}: not a hardpos stacked training checkpoint ({exc})") from None
    return state, blob


def _resume(path, identity: dict, device: torch.device) -> StackedState | None:
    if path is None or not Path(path).is_file():
        return None
    state, blob = load_stacked_checkpoint(path, device)
    if not same_run(path, blob, identity):
        return None
    log.info("resuming %d nets from %s at iteration %d", state.n_nets, path, state.iteration)
    return state


def _initial_states(seeds, init, input_scale, device) -> list[TrainState]:
    """Each net's starting point: its own seed's fresh LeNet, or its ``init`` checkpoint."""
    inits = list(init) if isinstance(init, (list, tuple)) else [init] * len(seeds)
    if len(inits) != len(seeds):
        raise InputError(f"{len(seeds)} seeds but {len(inits)} initial checkpoints")
    states, cache = [], {}
    for seed, path in zip(seeds, inits, strict=True):
        if path is None:
            model = LeNet(seed=int(seed), input_scale=input_scale)
            states.append(TrainState(model, [torch.zeros_like(p) for p in model.parameters()], 0))
            continue
        key = str(path)
        if key not in cache:
            cache[key] = load_checkpoint(path, torch.device("cpu"))[0]
            log.info("continuing from %s at iteration %d", path, cache[key].iteration)
        states.append(cache[key])
    return states


def stacked_batch_indices(orders: Sequence, iteration: int, device: torch.device) -> torch.Tensor:
    """``[K, B]`` example indices of ``iteration``, row ``k`` from net ``k``'s order, on
    ``device`` (one small copy; the images themselves are gathered there)."""
    return torch.stack([order.indices(iteration) for order in orders]).to(device)


KERNELS = ("grouped", "vmap")


def stacked_logits(params: dict[str, torch.Tensor], x: torch.Tensor, input_scale: float):
    """``[K, B, 10]`` LeNet scores of net ``k`` on its own batch ``x[k]`` (``[K, B, 1, 28,
    28]`` pixel values), all nets in one grouped convolution per layer and one batched
    matrix product per inner-product layer: the same sums as :class:`LeNet` per net."""
    k, b = x.shape[:2]
    h = x.transpose(0, 1).reshape(b, k, 28, 28) * input_scale  # net k's images: channel k
    for conv in ("conv1", "conv2"):
        weight = params[f"{conv}.weight"]
        h = F.conv2d(h, weight.flatten(0, 1), params[f"{conv}.bias"].flatten(), groups=k)
        h = F.max_pool2d(h, 2, 2)
    h = h.reshape(b, k, -1).transpose(0, 1)  # [K, B, 800], each net's features as flatten(1)
    h = torch.relu(torch.baddbmm(params["ip1.bias"][:, None], h, params["ip1.weight"].mT))
    return torch.baddbmm(params["ip2.bias"][:, None], h, params["ip2.weight"].mT)


def _grouped_step(input_scale: float):
    """Gradients of every net's mean loss by one backward pass through
    :func:`stacked_logits`: the nets share no weight, so the gradient of the summed losses
    with respect to net k's weights is that of net k's own loss."""

    def step(params, x, y):
        leaves = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        with torch.enable_grad():
            logits = stacked_logits(leaves, x, input_scale)
            losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
            losses = losses.reshape(y.shape).mean(dim=1)
            grads = torch.autograd.grad(losses.sum(), list(leaves.values()))
        return dict(zip(leaves, grads, strict=True)), losses.detach()

    return step


def _gradient_step(template: LeNet, compile_step: bool, device: torch.device, kernel: str):
    """``(params, x [K, B, 1, 28, 28], y [K, B]) -> (grads, losses [K])`` for all nets.

    ``vmap`` (``torch.func.vmap`` of ``grad_and_value`` over ``functional_call``, the
    default) runs each net through the kernels it runs alone, so net k's weights after
    200 MNIST iterations are within 4e-7 of the net trained alone. ``grouped``
    (:func:`stacked_logits`, autograd) is faster on the CPU (benchmarks/train_lenet.py) and
    its gradients agree with each net's own to float rounding (~1e-6 relative), but the
    grouped convolution rounds differently, and training amplifies that: after 200
    iterations the weights differ by up to 4e-3 and 0.2% of the test predictions."""
    if kernel not in KERNELS:
        raise InputError(f"stacked kernel {kernel!r} is not one of {', '.join(KERNELS)}")
    if kernel == "grouped":
        step = _grouped_step(template.input_scale)
    else:

        def loss(params, x, y):
            return F.cross_entropy(functional_call(template, params, (x,)), y)

        step = vmap(grad_and_value(loss))
    if compile_step:
        mode = "reduce-overhead" if device.type == "cuda" else "default"
        step = torch.compile(step, mode=mode, dynamic=False, fullgraph=True)
    return step


def _init_names(init) -> str | list[str | None] | None:
    """``init`` as the checkpoint records it: one path, a path (or None) a net, or None."""
    if isinstance(init, list | tuple):
        return [str(p) if p else None for p in init]
    return str(init) if init else None


def _distinct_seeds(seeds: Sequence[int]) -> list[int]:
    """The nets' seeds as ints; one net a seed, so two equal seeds are refused."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise InputError("train_stacked needs at least one seed")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"stacked nets need distinct seeds, got {seeds}")
    return seeds


def train_stacked(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    seeds: Sequence[int],
    iterations: int,
    solver: Solver | None = None,
    init: str | os.PathLike | Sequence[str | os.PathLike | None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 1000,
    n_extra: int = 0,
    extra_fraction: float | None = None,
    input_scale: float = 1.0 / 255.0,
    device: torch.device | str = "cpu",
    compile_step: bool = False,
    kernel: str = "vmap",
    progress: Callable[[int, list[float], float], None] | None = None,
) -> list[TrainState]:
    """Train ``len(seeds)`` LeNets together until the iteration counter reaches ``iterations``;
    net ``k`` is the one :func:`hardpos.training.lenet_training.train` gives for
    ``seed=seeds[k]`` and the same other arguments (to float rounding).

    ``init``: one checkpoint all nets continue from (fine-tuning the orderings of one base
    net), a list with one checkpoint (or None: from scratch) per net, or None. The starting
    iteration counters must agree. ``checkpoint`` holds the stacked state, written every
    ``checkpoint_every`` iterations and at the end and resumed from when it exists (one
    written for other seeds, solver or data is ignored, and said so in the log).
    ``compile_step``: run the gradient step through ``torch.compile`` (a CUDA graph on
    CUDA). ``kernel``: how all nets' gradients are computed (:data:`KERNELS`; see
    :func:`_gradient_step`). ``progress(iteration, losses, lr)`` is called at every checkpoint.
    Returns each net's final state (eval mode, on the CPU), in the order of ``seeds``.
    """
    solver = solver or Solver()
    device = torch.device(device)
    seeds = _distinct_seeds(seeds)
    x_all, y_all = training_tensors(images, labels, device)
    inits = _init_names(init)
    identity = {
        "seeds": seeds,
        **data_identity(solver, input_scale, inits, len(y_all), n_extra, extra_fraction),
    }
    state = _resume(checkpoint, identity, device)
    if state is None:
        state = _stack(_initial_states(seeds, init, input_scale, device), device)
    elif state.n_nets != len(seeds):
        raise ModelError(f"{checkpoint}: holds {state.n_nets} nets, not {len(seeds)}")

    template = LeNet(input_scale=state.input_scale).to(device)
    names = list(state.params)
    params = [state.params[name] for name in names]
    momentum = [state.momentum[name] for name in names]
    orders = [batch_order(len(x_all), int(n_extra), extra_fraction, seed, solver.batch_size)
              for seed in seeds]  # fmt: skip
    gradients = _gradient_step(template, compile_step, device, kernel)

    def step(iteration: int) -> torch.Tensor:
        idx = stacked_batch_indices(orders, iteration, device)
        grads, losses = gradients(state.params, x_all[idx].float(), y_all[idx])
        for p, name in zip(params, names, strict=True):
            p.grad = grads[name]
        return losses

    def finite(iteration: int, losses: torch.Tensor, lr: float) -> list[float]:
        return [check_finite(iteration, losses[k], [p[k] for p in params], lr)
                for k in range(len(seeds))]  # fmt: skip

    def save(iteration: int) -> None:
        state.iteration = iteration
        if checkpoint is not None:
            save_stacked_checkpoint(checkpoint, state, identity)

    state.iteration = sgd_loop(
        step=step, params=params, momentum=momentum, lr_mults=lr_multipliers(names, solver),
        solver=solver, first=state.iteration, iterations=iterations,
        checkpoint_every=checkpoint_every, finite=finite, save=save, progress=progress,
        unit="net-iterations", per_iteration=len(seeds),
    )  # fmt: skip
    for p in params:
        p.grad = None
    return [state.net(k) for k in range(len(seeds))]
