"""The smallest adversarial scale along a direction, on the grid of discrete images.

The grid
--------
A direction ``d`` (normalised to ``max |d| = 1``) applied to a uint8 image ``x`` at scale
``s >= 0`` gives the discrete image

    x~(s) = clip(x + sign(d) * q(s), 0, 255),   q_p(s) = round_half_up(s * |d_p|)

so ``s`` is the L-infinity step before rounding. Because ``x`` is integral, pixel ``p``
moves by one more grey level exactly at its *breakpoints*

    b_{p,m} = (m - 1/2) / |d_p|,   m = 1 .. room_p,

where ``room_p`` is how far the pixel can move before the bound (255 - x_p when d_p > 0,
x_p when d_p < 0, 0 when d_p = 0); later breakpoints are cut off by the clipping. The
images along the direction are thus a step function of ``s``: constant on
``[b, b')`` between two consecutive breakpoints (of any pixels) and changing at each of
them. The *grid* of a direction is the sorted set of its breakpoints, and the smallest
adversarial scale ``s_min`` is always one of them. In floating point the breakpoint
``b_{p,m}`` is the float64 value of ``(m - 0.5) / |d_p|`` and ``q_p(s)`` is defined as the
number of those values ``<= s`` (so that ``x~`` changes exactly at the stored values, even
where ``s * |d_p| + 0.5`` would round the other way).

The search
----------
For one (image, direction) pair, with ``y`` the image's (correct) label and
``f(x) = argmax h(x)``:

1. *Growing steps.* Evaluate ``f(x~(s))`` at a first scale: the caller's estimate (for
   the paper's directions :func:`hardpos.attacks.directions.compute_directions` gives a
   first-order one at no cost) or ``start``. While the image is still classified ``y``,
   step further, geometrically: to ``lo + overshoot * (s_pred - lo)``, where ``lo`` is the
   scale just tried and ``s_pred`` the first zero of the class margins ``h_y - h_t``
   extrapolated linearly through the last two scales tried (the unperturbed image being
   the first), kept within ``[lo * min_growth, lo * max_growth]`` and at least at the
   next grid point. Stop without an adversarial (``success = False``) when ``s`` has
   reached the saturation scale ``s_sat`` (the largest breakpoint: beyond it ``x~(s)``
   no longer changes; reason ``saturated``) or ``max_scale`` (reason ``max_scale``), or
   at once when the direction is zero (reason ``zero_direction``).
2. *Bracket.* The first adversarial scale gives a bracket ``(lo, hi]`` with ``x~(lo)``
   classified ``y`` and ``x~(hi)`` not; ``hi`` is replaced by the largest breakpoint
   ``<= hi`` (same image). While a breakpoint lies strictly inside ``(lo, hi)``, evaluate
   one of them, the grid point at or before the scale where the linearly interpolated
   class margins cross zero (regula falsi, with the Illinois modification so that neither
   end sticks; the next grid point when that one is ``lo``), and move ``lo`` or ``hi`` to
   it. When no breakpoint is left inside, ``s_min = hi``. This is a binary search over
   the breakpoints of the bracket whose split points are chosen by interpolation rather
   than halving; on LeNet/MNIST it takes 3.3 (FGS) to 7 (HC-D) evaluations per pair in
   all, growing steps included.

So ``x~(s_min)`` is misclassified and ``x~`` at the previous grid point (the largest
breakpoint below ``s_min``, whose image is also the image at every scale in
``[previous, s_min)``) is not: ``s_min`` is the smallest adversarial scale of the last
bracket, exactly on the grid, as in the paper's section 4.3. (An adversarial region
skipped entirely by one growing step is not looked for, as in the paper's line search.)
Every pair is one row of a batch; all active pairs are evaluated in one forward pass per
round and finished pairs leave the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from hardpos.errors import InputError

REASONS = ("", "zero_direction", "saturated", "max_scale")
OK, ZERO_DIRECTION, SATURATED, MAX_SCALE = range(4)
# safeguards that bound the evaluations per pair whatever the margins do: after
# STALL_STEPS growing steps each grows s by at least STALL_GROWTH, and after STALL_BRACKET
# interpolation steps in a bracket the bracket is halved (a plain binary search)
STALL_STEPS, STALL_GROWTH, STALL_BRACKET = 8, 1.25, 10


@dataclass(frozen=True)
class SearchOptions:
    """Knobs of the line search (scales in grey levels; see the module docstring)."""

    start: float = 16.0
    max_scale: float = 255.0
    min_growth: float = 1.0
    max_growth: float = 8.0
    overshoot: float = 1.1

    def check(self) -> None:
        for name in ("start", "max_scale"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number; got {value!r}")
        if not (1.0 <= self.min_growth < self.max_growth and np.isfinite(self.max_growth)):
            raise InputError(
                f"growth factors must satisfy 1 <= min_growth < max_growth; got "
                f"{self.min_growth!r}, {self.max_growth!r}"
            )
        if not (np.isfinite(self.overshoot) and self.overshoot >= 1.0):
            raise InputError(f"overshoot must be at least 1; got {self.overshoot!r}")


class Grid:
    """The breakpoints of a batch of (image, direction) pairs, flattened to ``[P, D]``.

    Held as one stacked float64 tensor (pixel values, sign of d, room, |d| with 0 replaced
    by 1) so that the rows of the active pairs are gathered in one indexing operation.
    """

    def __init__(self, x: torch.Tensor, d: torch.Tensor | None = None, *, data=None) -> None:
        if data is not None:  # a gathered subset (see take)
            self.data = data
            return
        d = torch.nan_to_num(d.to(torch.float64), nan=0.0, posinf=0.0, neginf=0.0)
        n, size = d.shape
        self.data = data = torch.empty((4, n, size), dtype=torch.float64, device=d.device)
        x_, sign, room, a1 = data
        x_.copy_(x)
        a1.copy_(d)
        a1.abs_()
        scale = a1.amax(dim=1) if size else torch.zeros(n, dtype=torch.float64)
        if not bool((scale == 1).all()):  # normalise to max |d| = 1
            a1.div_(torch.where(scale > 0, scale, 1.0).view(-1, 1))
        torch.sign(d, out=sign)
        # room: 255 - x where d > 0, x where d < 0, 0 where d = 0
        torch.addcmul((sign > 0).to(torch.float64).mul_(255.0), sign, x_, value=-1.0, out=room)
        a1.add_((sign == 0).to(torch.float64))  # 1 where d = 0 (room is 0 there)
        last = (room - 0.5).clamp_(min=0.0).div_(a1)
        self.saturation = last.amax(dim=1) if size else torch.zeros(n, dtype=torch.float64)
        first = (0.5 / a1).masked_fill_(room < 1, torch.inf)
        self.first = first.amin(dim=1) if size else torch.full((n,), torch.inf)
        self.zero = scale == 0

    def take(self, rows: torch.Tensor) -> Grid:
        """The pairs ``rows`` as a grid of their own."""
        return Grid(None, data=self.data[:, rows])

    @property
    def x(self) -> torch.Tensor:
        return self.data[0]

    def levels(self, s: torch.Tensor) -> torch.Tensor:
        """``q(s)``: grey levels moved per pixel at scale ``s`` (``[P]``), clipped to the room.

        The number of breakpoints ``fl((m - 0.5) / |d_p|) <= s``, m = 1 .. room_p: the
        rounded ``s |d_p|``, corrected by one where floating point rounds the other way.
        """
        room, a1 = self.data[2], self.data[3]
        s = s.to(torch.float64).view(-1, 1)
        q = torch.mul(a1, s).add_(0.5).floor_()
        check = torch.add(q, 0.5).div_(a1).le_(s)  # 1.0 where the next breakpoint is <= s
        q.add_(check)
        torch.sub(q, 0.5, out=check).div_(a1).gt_(s)  # 1.0 where this one is > s
        q.sub_(check)  # (for q = 0 the "breakpoint" -0.5 / |d| is never > s >= 0)
        return torch.minimum(q, room, out=q)  # room is 0 where d is 0

    def image(self, q: torch.Tensor) -> torch.Tensor:
        """``x~``: pixel values ``[P, D]`` (float64, integral) for levels ``q``."""
        return torch.addcmul(self.data[0], self.data[1], q)

    def next_breakpoints(self, q: torch.Tensor) -> torch.Tensor:
        """Per pixel, its next breakpoint after the scale where the levels are ``q``."""
        return torch.add(q, 0.5).div_(self.data[3]).masked_fill_(q >= self.data[2], torch.inf)

    def after(self, q: torch.Tensor) -> torch.Tensor:
        """The first breakpoint after the scale where the levels are ``q`` (inf if none)."""
        nxt = self.next_breakpoints(q)
        return nxt.amin(dim=1) if nxt.shape[1] else torch.full((len(q),), torch.inf)

    def before(self, q: torch.Tensor) -> torch.Tensor:
        """The last breakpoint at or before the scale where the levels are ``q`` (0 if none)."""
        if not q.shape[1]:
            return torch.zeros(len(q), dtype=torch.float64)
        # (q - 0.5) / |d| is negative exactly where q = 0 (no breakpoint passed)
        return torch.sub(q, 0.5).div_(self.data[3]).amax(dim=1).clamp_(min=0.0)


@dataclass
class SearchResult:
    """Per pair: ``scale`` (``s_min`` on success, else the largest scale tried), ``success``,
    ``logits`` at that scale, ``evals`` (model evaluations of the pair's images) and
    ``reason`` (an index into :data:`REASONS`); ``grid`` the pairs' :class:`Grid`."""

    scale: torch.Tensor
    success: torch.Tensor
    logits: torch.Tensor
    evals: torch.Tensor
    reason: torch.Tensor
    grid: Grid


def _crossing(m_a: torch.Tensor, m_b: torch.Tensor) -> torch.Tensor:
    """Fraction along a -> b where the first class margin crosses zero under linear
    interpolation (inf when none decreases); margins ``[B, n_classes]``, +inf at ``y``."""
    drop = m_a - m_b
    frac = torch.where(drop > 0, m_a / drop, torch.inf)
    frac = torch.where(torch.isfinite(m_a) & torch.isfinite(m_b), frac, torch.inf)
    return frac.amin(dim=1).clamp(min=0.0)


def minimal_scales(
    classify: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    d: torch.Tensor,
    labels: torch.Tensor,
    logits0: torch.Tensor,
    options: SearchOptions = SearchOptions(),
    *,
    start: torch.Tensor | None = None,
) -> SearchResult:
    """Search the smallest adversarial scale of every (image, direction) pair.

    ``x`` ``[P, D]`` pixel values of the (correctly classified) images, ``d`` ``[P, D]``
    directions, ``labels`` ``[P]``, ``logits0`` ``[P, n_classes]`` h(x) of the unperturbed
    images; ``classify`` maps pixel values ``[B, D]`` (float64) to logits ``[B, n_classes]``
    and is called once per round with every active pair. See the module docstring.
    """
    options.check()
    grid = Grid(x, d)
    n = len(grid.x)
    dev = grid.x.device
    labels = labels.to(dev)
    rows_all = torch.arange(n, device=dev)
    logits0 = logits0.to(device=dev, dtype=torch.float64)
    limit = torch.clamp(grid.saturation, max=options.max_scale)

    phase = torch.zeros(n, dtype=torch.int8, device=dev)  # 0 growing, 1 bracket, 2 done
    reason = torch.zeros(n, dtype=torch.int8, device=dev)
    success = torch.zeros(n, dtype=torch.bool, device=dev)
    evals = torch.zeros(n, dtype=torch.int64, device=dev)
    lo = torch.zeros(n, dtype=torch.float64, device=dev)
    after_lo = grid.first.clone()  # the first breakpoint after lo = 0
    hi = torch.full((n,), torch.inf, dtype=torch.float64, device=dev)
    prev_s = torch.zeros(n, dtype=torch.float64, device=dev)
    logits_lo, logits_prev, logits_hi = logits0.clone(), logits0.clone(), logits0.clone()
    w_lo = torch.ones(n, dtype=torch.float64, device=dev)
    w_hi = torch.ones(n, dtype=torch.float64, device=dev)
    last_move = torch.zeros(n, dtype=torch.int8, device=dev)  # 1 lo moved, 2 hi moved
    bracketed_at = torch.zeros(n, dtype=torch.int64, device=dev)  # evals when bracketed
    s_next = torch.full((n,), float(options.start), dtype=torch.float64, device=dev)
    if start is not None:
        start = start.to(device=dev, dtype=torch.float64)
        s_next = torch.where(torch.isfinite(start) & (start > 0), start, s_next)
    s_next = torch.minimum(s_next, limit)

    dead = grid.saturation <= 0
    reason[dead] = torch.where(grid.zero[dead], ZERO_DIRECTION, SATURATED).to(torch.int8)
    phase[dead] = 2

    def margins(logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        y = labels[rows]
        m = logits.gather(1, y.view(-1, 1)) - logits
        return m.scatter(1, y.view(-1, 1), torch.inf)

    while True:
        rows = rows_all[phase < 2]
        if len(rows) == 0:
            break
        sub = grid if len(rows) == n else grid.take(rows)
        lo_r, hi_r = lo[rows], hi[rows]
        in_bracket = phase[rows] == 1
        target = s_next[rows]
        if bool(in_bracket.any()):
            b = rows[in_bracket]
            frac = _crossing(
                margins(logits_lo[b], b) * w_lo[b].view(-1, 1),
                margins(logits_hi[b], b) * w_hi[b].view(-1, 1),
            )
            # safeguard: halve the bracket once interpolation has had its chances
            slow = evals[b] - bracketed_at[b] >= STALL_BRACKET
            frac = torch.where(torch.isfinite(frac) & ~slow, frac.clamp(max=1.0), 0.5)
            target[in_bracket] = lo_r[in_bracket] + frac * (hi_r[in_bracket] - lo_r[in_bracket])
        q = sub.levels(target)
        nxt = sub.next_breakpoints(q)
        up, down = nxt.amin(dim=1), sub.before(q)
        # x~(target) is the image of the grid point `down` at or before the target; in a
        # bracket, where that is lo, the next grid point `up` is evaluated instead
        use_up = in_bracket & (down <= lo_r)
        if bool(use_up.any()):
            q[use_up] += (nxt[use_up] == up[use_up].view(-1, 1)).to(q.dtype)
        s_eval = torch.where(use_up, up, torch.where(in_bracket, down, target))
        known_hi = torch.where(use_up, up, down)  # the grid point of the evaluated image
        known_after = torch.where(use_up, torch.nan, up)  # the one after it (NaN: unknown)
        logits = classify(sub.image(q)).to(torch.float64)
        evals[rows] += 1
        adv = logits.argmax(dim=1) != labels[rows]

        # the adversarial ones: hi moves down to the breakpoint of this image
        r_adv = rows[adv]
        if len(r_adv):
            hi[r_adv] = known_hi[adv]
            logits_hi[r_adv] = logits[adv]
            stuck = last_move[r_adv] == 2
            w_lo[r_adv] = torch.where(stuck, w_lo[r_adv] * 0.5, w_lo[r_adv])
            w_hi[r_adv] = 1.0
            last_move[r_adv] = 2
            bracketed_at[r_adv] = torch.where(phase[r_adv] == 0, evals[r_adv], bracketed_at[r_adv])
            phase[r_adv] = 1
        # the others: lo moves up
        keep = ~adv
        r_lo = rows[keep]
        if len(r_lo):
            was_growing = phase[r_lo] == 0
            prev_s[r_lo] = torch.where(was_growing, lo[r_lo], prev_s[r_lo])
            logits_prev[r_lo] = torch.where(
                was_growing.view(-1, 1), logits_lo[r_lo], logits_prev[r_lo]
            )
            lo[r_lo] = s_eval[keep]
            logits_lo[r_lo] = logits[keep]
            new_after = known_after[keep]
            fill = torch.isnan(new_after)
            if bool(fill.any()):
                new_after[fill] = grid.take(r_lo[fill]).after(q[keep][fill])
            after_lo[r_lo] = new_after
            stuck = last_move[r_lo] == 1
            w_hi[r_lo] = torch.where(stuck, w_hi[r_lo] * 0.5, w_hi[r_lo])
            w_lo[r_lo] = 1.0
            last_move[r_lo] = 1
            # growing pairs that were not fooled: give up at the limit, else step further
            g = r_lo[was_growing]
            if len(g):
                at_limit = lo[g] >= limit[g]
                failed = g[at_limit]
                reason[failed] = torch.where(
                    grid.saturation[failed] <= options.max_scale, SATURATED, MAX_SCALE
                ).to(torch.int8)
                phase[failed] = 2
                g = g[~at_limit]
                if len(g):
                    frac = _crossing(margins(logits_prev[g], g), margins(logits_lo[g], g))
                    width = lo[g] - prev_s[g]
                    predicted = lo[g] + (frac - 1) * width * options.overshoot
                    low = torch.maximum(lo[g] * options.min_growth, after_lo[g])
                    # safeguard: geometric growth of at least STALL_GROWTH after many steps
                    slow = evals[g] >= STALL_STEPS
                    low = torch.where(slow, torch.maximum(low, lo[g] * STALL_GROWTH), low)
                    s_new = torch.minimum(torch.maximum(predicted, low), lo[g] * options.max_growth)
                    s_next[g] = torch.minimum(s_new, limit[g])
        # brackets without a breakpoint inside are finished
        closing = rows_all[(phase == 1) & (after_lo >= hi)]
        phase[closing] = 2
        success[closing] = True

    scale = torch.where(success, hi, lo)
    logits_out = torch.where(success.view(-1, 1), logits_hi, logits_lo)
    return SearchResult(
        scale=scale, success=success, logits=logits_out, evals=evals, reason=reason, grid=grid
    )


def perturb(
    images: np.ndarray | torch.Tensor,
    directions: np.ndarray | torch.Tensor,
    scales: np.ndarray | torch.Tensor | float,
) -> np.ndarray:
    """``x~(s) = clip(x + sign(d) q(s), 0, 255)`` as uint8, exactly as the search forms it.

    ``images`` uint8 ``[N, ...]``, ``directions`` ``[N, ...]`` of the same shape (normalised
    here to ``max |d| = 1``), ``scales`` ``[N]`` or one number.
    """
    x = torch.as_tensor(np.asarray(images))
    d = torch.as_tensor(np.asarray(directions, dtype=np.float64))
    if x.shape != d.shape:
        raise InputError(f"images {tuple(x.shape)} and directions {tuple(d.shape)} differ in shape")
    n = len(x)
    grid = Grid(x.reshape(n, -1), d.reshape(n, -1))
    s = torch.as_tensor(np.broadcast_to(np.asarray(scales, dtype=np.float64), (n,)).copy())
    out = grid.image(grid.levels(s))
    return out.round().clamp(0, 255).to(torch.uint8).reshape(x.shape).numpy()


def grid_neighbours(
    images: np.ndarray | torch.Tensor,
    directions: np.ndarray | torch.Tensor,
    scales: np.ndarray | torch.Tensor | float,
) -> tuple[np.ndarray, np.ndarray]:
    """The grid points around ``s``: (largest breakpoint ``< s``, smallest ``> s``).

    0 stands for "no breakpoint below" (the unperturbed image), inf for "none above".
    """
    x = torch.as_tensor(np.asarray(images))
    d = torch.as_tensor(np.asarray(directions, dtype=np.float64))
    n = len(x)
    grid = Grid(x.reshape(n, -1), d.reshape(n, -1))
    s = torch.as_tensor(np.broadcast_to(np.asarray(scales, dtype=np.float64), (n,)).copy())
    below = torch.nextafter(s, torch.zeros_like(s)).clamp(min=0.0)
    return grid.before(grid.levels(below)).numpy(), grid.after(grid.levels(s)).numpy()
