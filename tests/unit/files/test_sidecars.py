"""The image counts of a sidecar or evaluation record, old and new, LeNet and ImageNet."""

from __future__ import annotations

from hardpos.files.sidecars import image_counts


def test_image_counts_read_every_kind_of_record():
    # today's LeNet record: the images trained on and those beyond the original 60,000
    assert image_counts({"train_images": 60_150, "added_images": 150}) == {
        "train_images": 60_150,
        "added_images": 150,
    }
    # a record written before added_images existed held the added count as train_images
    assert image_counts({"train_images": 150}) == {"added_images": 150}
    assert image_counts({}) == {"added_images": 0}
    # an ImageNet net's record knows what was added, not the total it was trained on
    assert image_counts({"added_images": 40, "train_images": None}) == {"added_images": 40}
    assert image_counts({"added_images": 40}) == {"added_images": 40}
