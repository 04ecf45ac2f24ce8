"""``hardpos pass ORIG ADV``: PASS and the L_p distances of one image pair, as JSON.

The numbers the paper prints under each adversarial in Figs. 2 and 3 (PASS, L2 norm per
pixel, L-infinity), plus plain SSIM, so one image can be examined without the workflow.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from hardpos.errors import DataError, InputError
from hardpos.similarity import BACKENDS, l2_per_pixel, linf, pass_score, ssim


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pass",
        help="print PASS, SSIM, L2 per pixel and L-inf of an image pair as JSON",
        description="PASS(ADV, ORIG) of the paper's eq. 4 for two image files "
        "(PNG or anything cv2.imread reads, or .npy arrays [H, W] / [C, H, W]).",
    )
    p.add_argument("orig", help="the original image")
    p.add_argument("adv", help="the adversarial (perturbed) image")
    p.add_argument("--backend", default="auto", choices=BACKENDS,
                   help="auto (torch where validated, else opencv), torch or opencv")  # fmt: skip
    p.add_argument("--iterations", type=int, default=50, help="ECC iterations")
    p.add_argument("--eps", type=float, default=1e-3, help="ECC stop threshold")
    p.add_argument("--gauss-filt-size", type=int, default=5, help="ECC smoothing")
    p.add_argument(
        "--data-range", type=float, default=None,
        help="the value of white for float .npy images (e.g. 1.0 for [0, 1]); SSIM and the "
        "distances are reported on the [0, 255] scale whatever it is",
    )  # fmt: skip


def read_image(path: str | Path) -> np.ndarray:
    """An image file as ``[H, W]`` (greyscale) or ``[3, H, W]`` RGB, values in [0, 255].

    Image files are read unchanged (no colour conversion on load); colour is turned from
    OpenCV's BGR into RGB and an alpha channel is dropped. ``.npy`` files are taken as
    they are and checked by :func:`pass_score`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(f"{path}: not an image OpenCV can read")
    if image.dtype != np.uint8:
        raise DataError(f"{path}: expected an 8-bit image, got {image.dtype}")
    if image.ndim == 3:
        if image.shape[2] not in (3, 4):
            raise DataError(f"{path}: expected 1, 3 or 4 channels, got {image.shape[2]}")
        image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    return np.ascontiguousarray(image)


def run(args: argparse.Namespace) -> int:
    orig, adv = read_image(args.orig), read_image(args.adv)
    if orig.shape != adv.shape:
        raise InputError(
            f"{args.orig} is {'x'.join(map(str, orig.shape))} but {args.adv} is "
            f"{'x'.join(map(str, adv.shape))}: PASS compares images of one size and layout"
        )
    result = pass_score(
        adv[None],
        orig[None],
        args.backend,
        iterations=args.iterations,
        eps=args.eps,
        gauss_filt_size=args.gauss_filt_size,
        data_range=args.data_range,
    )
    if args.data_range is not None:  # the paper's figures: distances in grey levels
        if not args.data_range > 0:
            raise InputError(f"--data-range {args.data_range}: expected the value of white (> 0)")
        adv, orig = (np.asarray(x, dtype=np.float64) * 255.0 / args.data_range for x in (adv, orig))
    report = {
        "orig": str(args.orig),
        "adv": str(args.adv),
        "pass": float(result.scores[0]),
        "ssim": ssim(adv, orig),
        "l2_per_pixel": l2_per_pixel(adv, orig),
        "linf": linf(adv, orig),
        "ecc_converged": bool(result.converged[0]),
        "homography": result.homographies[0].tolist(),
        "backend": result.backend,
    }
    print(json.dumps(report))
    return 0
