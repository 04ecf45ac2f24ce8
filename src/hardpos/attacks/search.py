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

from hardpos.attacks.options import SearchOptions
from hardpos.errors import InputError

REASONS = ("", "zero_direction", "saturated", "max_scale")
OK, ZERO_DIRECTION, SATURATED, MAX_SCALE = range(4)
# safeguards that bound the evaluations per pair whatever the margins do: after
# STALL_STEPS growing steps each grows s by at least STALL_GROWTH, and after STALL_BRACKET
# interpolation steps in a bracket the bracket is halved (a plain binary search)
STALL_STEPS, STALL_GROWTH, STALL_BRACKET = 8, 1.25, 10


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


DEFAULT_OPTIONS = SearchOptions()
GROWING, BRACKET, DONE = 0, 1, 2  # phases of a pair
LO_MOVED, HI_MOVED = 1, 2  # which end of the bracket moved last (for the Illinois rule)


@dataclass
class _Point:
    """The images one round evaluates, one per active pair: levels ``q`` (``[B, D]``),
    the scale ``s_eval`` they stand for, the grid point of the image (``known_hi``) and
    the one after it (``known_after``, NaN where not known yet)."""

    q: torch.Tensor
    s_eval: torch.Tensor
    known_hi: torch.Tensor
    known_after: torch.Tensor


class _Search:
    """The state of every pair of :func:`minimal_scales` and the steps that move it.

    Per pair (tensors ``[P]``, logits ``[P, n_classes]``): the ``phase`` (growing, in a
    bracket, done), the bracket ``lo < hi`` with the logits at both ends and the first
    breakpoint after ``lo`` (``after_lo``), the previous growing step (``prev_s``,
    ``logits_prev``) for the extrapolation, the Illinois weights ``w_lo``/``w_hi`` and
    which end moved last, the next growing scale ``s_next``, the evaluations so far and
    when the bracket was found, and the outcome (``success``, ``reason``).
    """

    def __init__(
        self,
        grid: Grid,
        labels: torch.Tensor,
        logits0: torch.Tensor,
        options: SearchOptions,
        start: torch.Tensor | None,
    ) -> None:
        self.grid, self.options = grid, options
        n = len(grid.x)
        dev = grid.x.device
        self.n = n
        self.labels = labels.to(dev)
        self.rows_all = torch.arange(n, device=dev)
        logits0 = logits0.to(device=dev, dtype=torch.float64)
        self.limit = torch.clamp(grid.saturation, max=options.max_scale)

        self.phase = torch.zeros(n, dtype=torch.int8, device=dev)
        self.reason = torch.zeros(n, dtype=torch.int8, device=dev)
        self.success = torch.zeros(n, dtype=torch.bool, device=dev)
        self.evals = torch.zeros(n, dtype=torch.int64, device=dev)
        self.lo = torch.zeros(n, dtype=torch.float64, device=dev)
        self.after_lo = grid.first.clone()  # the first breakpoint after lo = 0
        self.hi = torch.full((n,), torch.inf, dtype=torch.float64, device=dev)
        self.prev_s = torch.zeros(n, dtype=torch.float64, device=dev)
        self.logits_lo, self.logits_prev = logits0.clone(), logits0.clone()
        self.logits_hi = logits0.clone()
        self.w_lo = torch.ones(n, dtype=torch.float64, device=dev)
        self.w_hi = torch.ones(n, dtype=torch.float64, device=dev)
        self.last_move = torch.zeros(n, dtype=torch.int8, device=dev)
        self.bracketed_at = torch.zeros(n, dtype=torch.int64, device=dev)  # evals then
        s_next = torch.full((n,), float(options.start), dtype=torch.float64, device=dev)
        if start is not None:
            start = start.to(device=dev, dtype=torch.float64)
            s_next = torch.where(torch.isfinite(start) & (start > 0), start, s_next)
        self.s_next = torch.minimum(s_next, self.limit)

        dead = grid.saturation <= 0
        self.reason[dead] = torch.where(grid.zero[dead], ZERO_DIRECTION, SATURATED).to(torch.int8)
        self.phase[dead] = DONE

    def active(self) -> torch.Tensor:
        """The pairs not finished yet."""
        return self.rows_all[self.phase < DONE]

    def margins(self, logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``h_y - h_t`` per class ``t`` (+inf at ``y``)."""
        y = self.labels[rows]
        m = logits.gather(1, y.view(-1, 1)) - logits
        return m.scatter(1, y.view(-1, 1), torch.inf)

    def next_point(self, rows: torch.Tensor, sub: Grid) -> _Point:
        """Where each active pair is evaluated next: its growing step, or in a bracket the
        grid point at or before the interpolated crossing (the next one where that is lo)."""
        lo_r, hi_r = self.lo[rows], self.hi[rows]
        in_bracket = self.phase[rows] == BRACKET
        target = self.s_next[rows]
        if bool(in_bracket.any()):
            b = rows[in_bracket]
            frac = _crossing(
                self.margins(self.logits_lo[b], b) * self.w_lo[b].view(-1, 1),
                self.margins(self.logits_hi[b], b) * self.w_hi[b].view(-1, 1),
            )
            # safeguard: halve the bracket once interpolation has had its chances
            slow = self.evals[b] - self.bracketed_at[b] >= STALL_BRACKET
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
        return _Point(
            q=q,
            s_eval=torch.where(use_up, up, torch.where(in_bracket, down, target)),
            known_hi=torch.where(use_up, up, down),
            known_after=torch.where(use_up, torch.nan, up),
        )

    def fooled(self, rows: torch.Tensor, known_hi: torch.Tensor, logits: torch.Tensor) -> None:
        """Pairs whose evaluated image is adversarial: ``hi`` moves down to its grid point."""
        if not len(rows):
            return
        self.hi[rows] = known_hi
        self.logits_hi[rows] = logits
        stuck = self.last_move[rows] == HI_MOVED
        self.w_lo[rows] = torch.where(stuck, self.w_lo[rows] * 0.5, self.w_lo[rows])
        self.w_hi[rows] = 1.0
        self.last_move[rows] = HI_MOVED
        growing = self.phase[rows] == GROWING
        self.bracketed_at[rows] = torch.where(growing, self.evals[rows], self.bracketed_at[rows])
        self.phase[rows] = BRACKET

    def not_fooled(self, rows: torch.Tensor, point: _Point, logits: torch.Tensor) -> None:
        """Pairs whose evaluated image is still classified ``y``: ``lo`` moves up to it;
        growing pairs then give up at the limit or plan their next step."""
        if not len(rows):
            return
        was_growing = self.phase[rows] == GROWING
        self.prev_s[rows] = torch.where(was_growing, self.lo[rows], self.prev_s[rows])
        self.logits_prev[rows] = torch.where(
            was_growing.view(-1, 1), self.logits_lo[rows], self.logits_prev[rows]
        )
        self.lo[rows] = point.s_eval
        self.logits_lo[rows] = logits
        new_after = point.known_after
        fill = torch.isnan(new_after)
        if bool(fill.any()):
            new_after[fill] = self.grid.take(rows[fill]).after(point.q[fill])
        self.after_lo[rows] = new_after
        stuck = self.last_move[rows] == LO_MOVED
        self.w_hi[rows] = torch.where(stuck, self.w_hi[rows] * 0.5, self.w_hi[rows])
        self.w_lo[rows] = 1.0
        self.last_move[rows] = LO_MOVED
        self.grow(rows[was_growing])

    def grow(self, g: torch.Tensor) -> None:
        """Growing pairs not fooled yet: fail at the limit, else extrapolate the margins
        to the next scale (within the growth bounds and at least the next grid point)."""
        if not len(g):
            return
        options = self.options
        at_limit = self.lo[g] >= self.limit[g]
        failed = g[at_limit]
        self.reason[failed] = torch.where(
            self.grid.saturation[failed] <= options.max_scale, SATURATED, MAX_SCALE
        ).to(torch.int8)
        self.phase[failed] = DONE
        g = g[~at_limit]
        if not len(g):
            return
        lo = self.lo[g]
        frac = _crossing(self.margins(self.logits_prev[g], g), self.margins(self.logits_lo[g], g))
        width = lo - self.prev_s[g]
        predicted = lo + (frac - 1) * width * options.overshoot
        low = torch.maximum(lo * options.min_growth, self.after_lo[g])
        # safeguard: geometric growth of at least STALL_GROWTH after many steps
        slow = self.evals[g] >= STALL_STEPS
        low = torch.where(slow, torch.maximum(low, lo * STALL_GROWTH), low)
        s_new = torch.minimum(torch.maximum(predicted, low), lo * options.max_growth)
        self.s_next[g] = torch.minimum(s_new, self.limit[g])

    def close_brackets(self) -> None:
        """Brackets without a breakpoint inside are finished: ``s_min = hi``."""
        closing = self.rows_all[(self.phase == BRACKET) & (self.after_lo >= self.hi)]
        self.phase[closing] = DONE
        self.success[closing] = True

    def result(self) -> SearchResult:
        return SearchResult(
            scale=torch.where(self.success, self.hi, self.lo),
            success=self.success,
            logits=torch.where(self.success.view(-1, 1), self.logits_hi, self.logits_lo),
            evals=self.evals,
            reason=self.reason,
            grid=self.grid,
        )


def minimal_scales(
    classify: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    d: torch.Tensor,
    labels: torch.Tensor,
    logits0: torch.Tensor,
    options: SearchOptions = DEFAULT_OPTIONS,
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
    search = _Search(grid, labels, logits0, options, start)
    while len(rows := search.active()):
        sub = grid if len(rows) == search.n else grid.take(rows)
        point = search.next_point(rows, sub)
        logits = classify(sub.image(point.q)).to(torch.float64)
        search.evals[rows] += 1
        adv = logits.argmax(dim=1) != search.labels[rows]
        search.fooled(rows[adv], point.known_hi[adv], logits[adv])
        keep = ~adv
        search.not_fooled(
            rows[keep],
            _Point(
                point.q[keep], point.s_eval[keep], point.known_hi[keep], point.known_after[keep]
            ),
            logits[keep],
        )
        search.close_brackets()
    return search.result()


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
