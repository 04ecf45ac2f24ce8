"""FLOPs of GoogLeNet and ResNet-152 per 224 x 224 crop (forward, forward + backward) and
the measured CPU time of one forward pass, for the paper-scale GPU estimate in the README.

torch.utils.flop_counter counts a multiply-add as 2 FLOPs; torchvision's model cards (1.50
and 11.51 "GFLOPS") count multiply-adds, so they are half these numbers.
"""

from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from hardpos.imagenet.classifiers import ImageNetClassifier


def count(model: torch.nn.Module, size: int, backward: bool) -> int:
    x = torch.rand(1, 3, size, size) * 255
    with FlopCounterMode(display=False) as counter:
        if backward:
            x.requires_grad_(True)
            model.logits(x).sum().backward()
        else:
            with torch.no_grad():
                model.logits(x)
    return counter.get_total_flops()


def main() -> None:
    torch.set_num_threads(1)
    for arch in ("googlenet", "resnet152"):
        model = ImageNetClassifier(arch, 1000).eval()
        forward = count(model, 224, backward=False)
        both = count(model, 224, backward=True)
        x = torch.rand(4, 3, 224, 224) * 255
        with torch.no_grad():
            model.logits(x)
            started = time.perf_counter()
            model.logits(x)
            seconds = (time.perf_counter() - started) / 4
        print(
            f"{arch}: forward {forward / 1e9:.2f} GFLOP ({forward / 2e9:.2f} G multiply-adds), "
            f"forward+backward {both / 1e9:.2f} GFLOP; CPU (1 thread) {seconds:.3f} s/crop "
            f"= {forward / seconds / 1e9:.1f} GFLOP/s"
        )


if __name__ == "__main__":
    main()
