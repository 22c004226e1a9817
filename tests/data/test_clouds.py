from __future__ import annotations

import numpy as np

from ibhfn.data.clouds import SHADOW_DARKENING, SHADOW_DISTANCE, CloudField, real_cloud_shapes
from ibhfn.data.landcover import SPECTRA, LandCover

ROWS, COLS = np.arange(300.0)[:, None], np.arange(300.0)[None, :]


def test_real_cloud_shapes_are_the_partly_cloudy_maps():
    shapes = real_cloud_shapes()
    assert shapes.shape[1:] == (101, 100) and 5 < len(shapes) < 68
    cover = (shapes > 0.5).mean(axis=(1, 2))
    assert cover.min() > 0.15 and cover.max() < 0.85


def test_cloudiness_sets_the_amount_of_cloud():
    fields = [CloudField.draw(np.random.default_rng(1), cloudiness=c) for c in (0.0, 0.5, 1.0)]
    covers = [(field.opacity(ROWS, COLS).mask > 0.5).mean() for field in fields]
    assert covers[0] < 0.01 and covers[0] < covers[1] < covers[2] and covers[2] > 0.9


def test_shadows_are_the_thick_clouds_moved_along_the_sun_direction():
    field = CloudField.draw(np.random.default_rng(2), cloudiness=0.5)
    dy, dx = field.shadow_offset
    assert SHADOW_DISTANCE[0] <= np.hypot(dy, dx) <= SHADOW_DISTANCE[1]
    here = field.opacity(ROWS, COLS)
    source = field.opacity(ROWS - dy, COLS - dx)
    np.testing.assert_allclose(here.shadow, source.thick * (1 - here.thick), atol=1e-6)
    shaded = (here.shadow > 0.9) & (here.mask == 0)
    assert shaded.mean() > 0.001
    ground = np.broadcast_to(SPECTRA[LandCover.BARE_SOIL][:, None, None], (13, 300, 300)).copy()
    cloudy, _ = field.cover(ground, ROWS, COLS)
    darkening = 1 - SHADOW_DARKENING[:, None] * here.shadow[shaded]
    np.testing.assert_allclose(cloudy[:, shaded], ground[:, shaded] * darkening, rtol=1e-5)
