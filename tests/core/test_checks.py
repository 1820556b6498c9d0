"""core.checks: which masks a seller is told to check, and why."""

import numpy as np

from bgapp.core.checks import edges_touched, mask_concerns


def centred_box(share: float, size: int = 200) -> np.ndarray:
    mask = np.zeros((size, size), np.float32)
    side = round(size * share**0.5)
    start = (size - side) // 2
    mask[start : start + side, start : start + side] = 1.0
    return mask


def test_a_plain_centred_product_needs_no_check():
    assert mask_concerns(centred_box(0.3)) == []


def test_an_empty_mask_is_flagged_alone():
    reasons = mask_concerns(np.zeros((100, 100), np.float32))
    assert len(reasons) == 1 and "empty" in reasons[0]
    assert "empty" in mask_concerns(centred_box(0.003))[0]


def test_a_small_mask_is_flagged_with_its_share():
    reasons = mask_concerns(centred_box(0.01))
    assert len(reasons) == 1 and "1.0%" in reasons[0]


def test_edges_are_counted_and_three_mean_the_backdrop():
    mask = np.zeros((100, 100), np.float32)
    mask[60:, 30:70] = 1.0  # runs off the bottom only: a product standing on the frame's edge
    assert edges_touched(mask) == 1 and mask_concerns(mask) == []
    mask[:, :20] = 1.0  # the whole left column too: now bottom, left, top
    assert edges_touched(mask) == 3
    assert any("3 edges" in r for r in mask_concerns(mask))


def test_an_unsure_network_is_flagged_only_with_its_probability():
    mask = centred_box(0.3)
    sure = np.where(mask > 0, 0.95, 0.02).astype(np.float32)
    unsure = np.where(mask > 0, 0.55, 0.02).astype(np.float32)
    assert mask_concerns(mask, sure) == []
    assert any("unsure" in r for r in mask_concerns(mask, unsure))
    assert mask_concerns(mask) == []  # no probability: not judged
