"""The zoomed-in crop of scripts/clicks_ceiling.py (the study behind docs/clicks.md's ceiling rows)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from scripts.clicks_ceiling import crop


def test_the_crop_holds_a_small_product_grown_and_stays_inside_the_photo():
    mask = np.zeros((300, 400), bool)
    mask[140:160, 190:210] = True  # a 20 px product in the middle
    x0, y0, x1, y1 = crop(mask, [], mask.shape)
    assert x0 <= 190 and y0 <= 140 and x1 >= 210 and y1 >= 160
    assert x1 - x0 >= 0.4 * 400 - 1  # never smaller than 40 % of the photo's longer side
    assert x1 - x0 < 400 and y1 - y0 < 300  # and it is a zoom: smaller than the photo


def test_a_click_outside_the_product_widens_the_crop_to_hold_it_and_edges_clip():
    mask = np.zeros((300, 400), bool)
    mask[10:40, 10:40] = True  # near the corner: the square clips at the photo's edge
    x0, y0, x1, y1 = crop(mask, [(390.0, 290.0)], mask.shape)
    assert (x0, y0) == (0, 0) and x1 == 400 and y1 == 300
    small = crop(mask, [], mask.shape)
    assert small[0] == 0 and small[1] == 0 and small[2] < 400
