"""The object catalogue: ScanNet-common categories with typical sizes, shapes (boxes/cylinders) and colours.

Every object is built in its local frame (see ``world.py``): origin at the footprint centre on the object's
base, local +x = the object's front, ``size = (sx along x, sy along y, sz height)``. Builders return parts
that stay inside the box ``[-sx/2, sx/2] x [-sy/2, sy/2] x [0, sz]``, so objects whose boxes do not overlap
never interpenetrate. Faces of different parts are never coplanar where both are visible (a door panel stands
1-2 cm in front of the carcass), which keeps renders free of z-fighting.

Sizes are uniform in the ranges below (metres, rounded to the centimetre); colours are drawn from each
category's palette and jittered slightly per instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .world import Part

__all__ = ["COLORS", "Category", "CATALOGUE", "categories", "build_parts", "shade"]

# Named colours (words used in text) and their base RGB.
COLORS: dict[str, tuple[int, int, int]] = {
    "white": (232, 232, 226),
    "black": (38, 38, 42),
    "gray": (128, 129, 132),
    "silver": (188, 190, 196),
    "brown": (122, 82, 48),
    "beige": (212, 192, 156),
    "red": (172, 42, 40),
    "blue": (46, 78, 158),
    "green": (62, 128, 60),
    "yellow": (222, 188, 62),
    "orange": (216, 118, 42),
    "pink": (216, 140, 158),
    "purple": (108, 62, 138),
}

_WOOD = (118, 80, 48)
_DARK = (40, 40, 44)
_METAL = (150, 152, 158)
_LINEN = (236, 234, 226)
_LEAF = (58, 118, 50)
_SCREEN = (24, 30, 44)
_BOOKS = [
    (150, 40, 40),
    (40, 70, 140),
    (200, 170, 60),
    (50, 110, 60),
    (230, 225, 210),
    (90, 60, 40),
    (120, 50, 110),
]

Builder = Callable[[tuple[float, float, float], tuple[int, int, int], np.random.Generator], list[Part]]


@dataclass(frozen=True)
class Category:
    """One catalogue entry (a category may have several entries, e.g. floor and table lamps).

    Attributes:
        key: unique catalogue key (``"table lamp"``).
        label: ScanNet-style category label written to the aggregation and used in text (``"lamp"``).
        size_x, size_y, size_z: (min, max) ranges of the local extents, metres.
        colors: colour names (keys of ``COLORS``) this category comes in.
        placement: ``"wall"`` (back against a wall), ``"corner"`` (against a wall, near a corner), ``"free"``
            (anywhere in the room), ``"on"`` (on top of a supporting object), ``"mounted"`` (on a wall, above
            the floor).
        builder: parts builder.
        mount_z: (min, max) height of the base above the floor for ``"mounted"`` objects.
    """

    key: str
    label: str
    size_x: tuple[float, float]
    size_y: tuple[float, float]
    size_z: tuple[float, float]
    colors: tuple[str, ...]
    placement: str
    builder: Builder
    mount_z: tuple[float, float] = (0.0, 0.0)


def shade(rgb: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    """Scale a colour by ``f`` (clipped to 0-255)."""
    return tuple(int(np.clip(round(c * f), 0, 255)) for c in rgb)  # type: ignore[return-value]


def _box(cx: float, cy: float, z0: float, sx: float, sy: float, sz: float, rgb) -> Part:
    """A box part given its footprint centre, base height and extents (local frame)."""
    return Part(
        "box", (float(cx), float(cy), float(z0 + sz / 2)), (float(sx), float(sy), float(sz)), tuple(rgb)
    )


def _cyl(cx: float, cy: float, z0: float, d: float, h: float, rgb) -> Part:
    """A vertical cylinder part given its axis position, base height, diameter and height."""
    return Part(
        "cylinder", (float(cx), float(cy), float(z0 + h / 2)), (float(d), float(d), float(h)), tuple(rgb)
    )


def _legs(sx: float, sy: float, h: float, t: float, inset: float, rgb) -> list[Part]:
    """Four square legs of thickness ``t`` under a top of extent (sx, sy)."""
    ox, oy = sx / 2 - inset - t / 2, sy / 2 - inset - t / 2
    return [_box(i * ox, j * oy, 0.0, t, t, h, rgb) for i in (-1, 1) for j in (-1, 1)]


# --------------------------------------------------------------------------------------------- builders
def _bed(size, c, rng):
    sx, sy, sz = size
    hb = 0.08
    frame_len = sx - hb
    xm = -sx / 2 + hb + frame_len / 2
    parts = [
        _box(-sx / 2 + hb / 2, 0, 0, hb, sy, sz, c),  # headboard (back, against the wall)
        _box(xm, 0, 0, frame_len, sy, 0.3, shade(c, 0.8)),  # frame
        _box(xm - 0.01, 0, 0.3, frame_len - 0.06, sy - 0.04, 0.2, _LINEN),  # mattress
    ]
    blanket_len = 0.7 * frame_len
    parts.append(_box(sx / 2 - 0.01 - blanket_len / 2, 0, 0.3, blanket_len, sy - 0.01, 0.25, c))  # blanket
    n = 2 if sy > 1.2 else 1
    w = (sy - 0.2) / n
    for k in range(n):
        cy = -sy / 2 + 0.1 + w * (k + 0.5)
        parts.append(_box(-sx / 2 + hb + 0.22, cy, 0.5, 0.36, w - 0.06, 0.12, _LINEN))  # pillows
    return parts


def _drawers(sx, sy, sz, n, c, z_lo=0.06):
    """Carcass with ``n`` drawer fronts stacked on its front face."""
    parts = [_box(-0.01, 0, 0, sx - 0.02, sy, sz, c)]
    h = (sz - z_lo - 0.03) / n
    for k in range(n):
        parts.append(_box(sx / 2 - 0.01, 0, z_lo + k * h + 0.01, 0.02, sy - 0.05, h - 0.02, shade(c, 0.9)))
    return parts


def _nightstand(size, c, rng):
    sx, sy, sz = size
    return _drawers(sx, sy, sz, 2, c, z_lo=0.08)


def _dresser(size, c, rng):
    sx, sy, sz = size
    return _drawers(sx, sy, sz, 3 if sz < 0.9 else 4, c)


def _doors(sx, sy, sz, c, z0=0.0, handle=True):
    """Carcass with two door panels and (optionally) bar handles on its front (+x) face."""
    parts = [_box(-0.02, 0, z0, sx - 0.04, sy, sz - z0, c)]
    w = (sy - 0.03) / 2
    for j in (-1, 1):
        parts.append(
            _box(sx / 2 - 0.03, j * (w / 2 + 0.005), z0 + 0.02, 0.02, w, sz - z0 - 0.04, shade(c, 0.92))
        )
        if handle:
            parts.append(_box(sx / 2 - 0.01, j * 0.05, z0 + (sz - z0) * 0.5, 0.02, 0.02, 0.16, _METAL))
    return parts


def _wardrobe(size, c, rng):
    return _doors(*size, c)


def _cabinet(size, c, rng):
    return _doors(*size, c)


def _chair(size, c, rng):
    sx, sy, sz = size
    seat_h = 0.45
    return [
        *_legs(sx, sy, seat_h, 0.04, 0.01, shade(c, 0.7)),
        _box(0, 0, seat_h, sx, sy, 0.05, c),
        _box(-sx / 2 + 0.025, 0, seat_h + 0.05, 0.05, sy, sz - seat_h - 0.05, c),
    ]


def _office_chair(size, c, rng):
    sx, sy, sz = size
    return [
        _cyl(0, 0, 0, min(sx, sy) * 0.9, 0.06, _DARK),
        _cyl(0, 0, 0.06, 0.06, 0.38, _METAL),
        _box(0.03, 0, 0.44, sx - 0.06, sy - 0.04, 0.08, c),
        _box(-sx / 2 + 0.05, 0, 0.56, 0.06, sy - 0.1, sz - 0.56, c),
    ]


def _upholstered(sx, sy, sz, c, n_cushions):
    """Sofa / armchair: feet, base, back, two arms, seat cushions."""
    arm = 0.16 if sy < 1.2 else 0.2
    back = 0.2
    parts = [
        _cyl(i * (sx / 2 - 0.06), j * (sy / 2 - 0.06), 0, 0.05, 0.08, _DARK) for i in (-1, 1) for j in (-1, 1)
    ]
    parts += [
        _box(0, 0, 0.08, sx, sy, 0.22, shade(c, 0.85)),  # base
        _box(-sx / 2 + back / 2, 0, 0.3, back, sy - 2 * arm, sz - 0.3, c),  # back
    ]
    for j in (-1, 1):
        parts.append(_box(0, j * (sy / 2 - arm / 2), 0.3, sx, arm, 0.3, c))  # arms
    w = (sy - 2 * arm) / n_cushions
    for k in range(n_cushions):
        cy = -sy / 2 + arm + w * (k + 0.5)
        parts.append(_box(back / 2, cy, 0.3, sx - back - 0.02, w - 0.02, 0.14, shade(c, 1.08)))
    return parts


def _sofa(size, c, rng):
    sx, sy, sz = size
    return _upholstered(sx, sy, sz, c, 3 if sy > 1.9 else 2)


def _armchair(size, c, rng):
    return _upholstered(*size, c, 1)


def _table(size, c, rng):
    sx, sy, sz = size
    if abs(sx - sy) < 1e-9:  # round table
        return [
            _cyl(0, 0, 0, 0.5, 0.03, shade(c, 0.7)),
            _cyl(0, 0, 0.03, 0.1, sz - 0.07, shade(c, 0.7)),
            _cyl(0, 0, sz - 0.04, sx, 0.04, c),
        ]
    return [*_legs(sx, sy, sz - 0.04, 0.05, 0.04, shade(c, 0.75)), _box(0, 0, sz - 0.04, sx, sy, 0.04, c)]


def _coffee_table(size, c, rng):
    sx, sy, sz = size
    return [
        *_legs(sx, sy, sz - 0.04, 0.04, 0.02, shade(c, 0.75)),
        _box(0, 0, sz - 0.04, sx, sy, 0.04, c),
        _box(0, 0, 0.1, sx - 0.1, sy - 0.1, 0.02, shade(c, 0.9)),
    ]


def _desk(size, c, rng):
    sx, sy, sz = size
    parts = [_box(0, 0, sz - 0.03, sx, sy, 0.03, c)]
    for j in (-1, 1):
        parts.append(_box(0, j * (sy / 2 - 0.015), 0, sx - 0.04, 0.03, sz - 0.03, shade(c, 0.85)))
    parts.append(_box(-sx / 2 + 0.03, 0, 0.3, 0.02, sy - 0.06, sz - 0.33, shade(c, 0.85)))  # modesty panel
    if sy > 1.25:  # drawer unit on the right-hand side
        parts.append(_box(0.0, sy / 2 - 0.23, 0, sx - 0.1, 0.4, sz - 0.06, shade(c, 0.92)))
    return parts


def _bookshelf(size, c, rng):
    sx, sy, sz = size
    t = 0.02
    parts = [_box(0, j * (sy / 2 - t / 2), 0, sx, t, sz, c) for j in (-1, 1)]
    parts.append(_box(-sx / 2 + t / 2, 0, 0, t, sy - 2 * t, sz, shade(c, 0.8)))
    n = max(3, int(sz / 0.35))
    gap = (sz - t) / n
    for k in range(n + 1):
        parts.append(_box(0.005, 0, min(k * gap, sz - t), sx - t - 0.01, sy - 2 * t, t, c))
    inner = sy - 2 * t
    for k in range(n):
        z0 = k * gap + t
        y = -inner / 2 + 0.02
        while True:
            w = float(rng.uniform(0.08, 0.3))
            if y + w > inner / 2 - 0.02:
                break
            if rng.random() < 0.8:
                h = float(min(gap - t - 0.03, rng.uniform(0.15, 0.3)))
                col = _BOOKS[int(rng.integers(len(_BOOKS)))]
                parts.append(_box(0.0, y + w / 2, z0, sx - 0.1, w, h, col))
            y += w + 0.01
    return parts


def _kitchen_counter(size, c, rng):
    sx, sy, sz = size
    parts = [
        _box(-0.035, 0, 0.1, sx - 0.07, sy, sz - 0.14, c),
        _box(-0.05, 0, 0, sx - 0.1, sy, 0.1, _DARK),
        _box(0, 0, sz - 0.04, sx, sy, 0.04, (200, 200, 196)),
    ]
    n = max(1, int(round(sy / 0.6)))
    w = sy / n
    for k in range(n):
        parts.append(
            _box(sx / 2 - 0.06, -sy / 2 + w * (k + 0.5), 0.12, 0.02, w - 0.02, sz - 0.2, shade(c, 0.93))
        )
    return parts


def _refrigerator(size, c, rng):
    sx, sy, sz = size
    split = 0.68 * sz
    return [
        _box(-0.02, 0, 0, sx - 0.04, sy, sz, c),
        _box(sx / 2 - 0.03, 0, 0.02, 0.02, sy - 0.02, split - 0.03, shade(c, 0.96)),
        _box(sx / 2 - 0.03, 0, split + 0.01, 0.02, sy - 0.02, sz - split - 0.03, shade(c, 0.96)),
        _box(sx / 2 - 0.01, -sy / 2 + 0.07, split - 0.45, 0.02, 0.03, 0.35, _METAL),
        _box(sx / 2 - 0.01, -sy / 2 + 0.07, split + 0.06, 0.02, 0.03, 0.2, _METAL),
    ]


def _stove(size, c, rng):
    sx, sy, sz = size
    parts = [
        _box(-0.01, 0, 0, sx - 0.02, sy, sz - 0.02, c),
        _box(0, 0, sz - 0.02, sx, sy, 0.01, _DARK),
        _box(sx / 2 - 0.01, 0, 0.15, 0.02, sy - 0.1, sz * 0.55, _DARK),
    ]
    for i in (-1, 1):
        for j in (-1, 1):
            parts.append(_cyl(i * sx * 0.2, j * sy * 0.22, sz - 0.01, 0.18, 0.01, (60, 60, 62)))
    return parts


def _toilet(size, c, rng):
    sx, sy, sz = size
    d = sy
    bowl_x = sx / 2 - d / 2
    return [
        _box(-sx / 2 + 0.09, 0, 0.38, 0.18, sy, sz - 0.38, c),  # tank
        _box(
            -sx / 2 + 0.18 + (bowl_x - (-sx / 2 + 0.18)) / 2, 0, 0.0, bowl_x + sx / 2 - 0.18, d * 0.5, 0.38, c
        ),
        _cyl(bowl_x, 0, 0.0, d * 0.6, 0.18, c),  # pedestal
        _cyl(bowl_x, 0, 0.18, d, 0.2, c),  # bowl
        _cyl(bowl_x, 0, 0.38, d, 0.03, shade(c, 0.95)),  # seat
    ]


def _sink(size, c, rng):
    sx, sy, sz = size
    parts = _doors(sx, sy, sz - 0.2, c, handle=True)
    parts.append(_box(0, 0, sz - 0.2, sx, sy, 0.04, shade(c, 1.05)))  # counter top
    d = min(sx - 0.12, sy - 0.1, 0.42)
    parts.append(_cyl(0.04, 0, sz - 0.16, d, 0.12, (240, 240, 240)))  # basin
    parts.append(_box(-sx / 2 + 0.05, 0, sz - 0.16, 0.04, 0.04, 0.16, _METAL))  # faucet
    return parts


def _bathtub(size, c, rng):
    sx, sy, sz = size
    t = 0.08
    return [
        _box(0, 0, 0, sx - 2 * t, sy - 2 * t, 0.12, shade(c, 0.92)),
        *[_box(i * (sx / 2 - t / 2), 0, 0, t, sy, sz, c) for i in (-1, 1)],
        *[_box(0, j * (sy / 2 - t / 2), 0, sx - 2 * t, t, sz, c) for j in (-1, 1)],
    ]


def _tv_stand(size, c, rng):
    sx, sy, sz = size
    parts = [
        _box(-0.01, 0, 0.05, sx - 0.02, sy, sz - 0.05, c),
        _box(-0.03, 0, 0, sx - 0.1, sy - 0.1, 0.05, _DARK),
    ]
    w = (sy - 0.05) / 2
    for j in (-1, 1):
        parts.append(_box(sx / 2 - 0.01, j * (w / 2 + 0.01), 0.08, 0.02, w - 0.02, sz - 0.13, shade(c, 0.88)))
    return parts


def _screen(size, c, rng):
    """TV / monitor: foot, neck and a thin panel whose front carries the (dark) display."""
    sx, sy, sz = size
    neck_h = min(0.12, 0.25 * sz)
    return [
        _box(0, 0, 0, sx, min(sy * 0.4, 0.3), 0.02, c),
        _box(-0.01, 0, 0.02, 0.04, 0.06, neck_h, c),
        _box(-0.015, 0, neck_h, 0.05, sy, sz - neck_h, c),
        _box(0.015, 0, neck_h + 0.02, 0.01, sy - 0.04, sz - neck_h - 0.04, _SCREEN),
    ]


def _floor_lamp(size, c, rng):
    sx, sy, sz = size
    return [
        _cyl(0, 0, 0, sx * 0.7, 0.03, _DARK),
        _cyl(0, 0, 0.03, 0.03, sz - 0.33, _METAL),
        _cyl(0, 0, sz - 0.3, sx, 0.3, c),
    ]


def _table_lamp(size, c, rng):
    sx, sy, sz = size
    return [
        _cyl(0, 0, 0, sx * 0.5, 0.03, _DARK),
        _cyl(0, 0, 0.03, sx * 0.25, sz * 0.5, shade(c, 0.8)),
        _cyl(0, 0, 0.03 + sz * 0.5, sx, sz * 0.5 - 0.03, c),
    ]


def _plant(size, c, rng):
    sx, sy, sz = size
    pot_h = min(0.3, 0.35 * sz)
    pot = COLORS[["white", "brown", "gray", "black"][int(rng.integers(4))]]
    foliage = sz - pot_h
    return [
        _cyl(0, 0, 0, sx * 0.6, pot_h, pot),
        _cyl(0, 0, pot_h, sx, foliage * 0.55, c),
        _cyl(0, 0, pot_h + foliage * 0.55, sx * 0.65, foliage * 0.45, shade(c, 1.15)),
    ]


def _trash_can(size, c, rng):
    sx, sy, sz = size
    return [_cyl(0, 0, 0, sx * 0.94, sz - 0.03, c), _cyl(0, 0, sz - 0.03, sx, 0.03, shade(c, 0.75))]


def _ottoman(size, c, rng):
    sx, sy, sz = size
    return [_box(0, 0, 0, sx - 0.04, sy - 0.04, 0.08, _DARK), _box(0, 0, 0.08, sx, sy, sz - 0.08, c)]


def _whiteboard(size, c, rng):
    sx, sy, sz = size
    return [
        _box(-sx / 2 + 0.01, 0, 0, 0.02, sy, sz, (150, 150, 155)),
        _box(-sx / 2 + 0.025, 0, 0.03, 0.01, sy - 0.06, sz - 0.06, c),
        _box(0.0, 0, 0.0, sx, sy * 0.6, 0.03, _METAL),
    ]


def _e(key, label, sx, sy, sz, colors, placement, builder, mount_z=(0.0, 0.0)) -> Category:
    return Category(key, label, sx, sy, sz, tuple(colors), placement, builder, mount_z)


_ENTRIES = [
    _e(
        "bed",
        "bed",
        (1.95, 2.1),
        (0.95, 1.8),
        (0.9, 1.1),
        ["brown", "white", "gray", "blue", "beige", "black"],
        "wall",
        _bed,
    ),
    _e(
        "nightstand",
        "nightstand",
        (0.35, 0.45),
        (0.4, 0.55),
        (0.45, 0.62),
        ["brown", "white", "black", "gray"],
        "wall",
        _nightstand,
    ),
    _e(
        "dresser",
        "dresser",
        (0.45, 0.55),
        (0.9, 1.5),
        (0.75, 1.0),
        ["brown", "white", "black"],
        "wall",
        _dresser,
    ),
    _e(
        "wardrobe",
        "wardrobe",
        (0.55, 0.65),
        (0.9, 1.5),
        (1.8, 2.1),
        ["brown", "white", "gray"],
        "wall",
        _wardrobe,
    ),
    _e(
        "chair",
        "chair",
        (0.46, 0.54),
        (0.42, 0.5),
        (0.8, 0.95),
        ["brown", "black", "white", "red", "blue", "green"],
        "free",
        _chair,
    ),
    _e(
        "office chair",
        "office chair",
        (0.56, 0.64),
        (0.56, 0.64),
        (0.9, 1.15),
        ["black", "gray", "blue", "red"],
        "free",
        _office_chair,
    ),
    _e(
        "armchair",
        "armchair",
        (0.75, 0.9),
        (0.75, 0.95),
        (0.75, 0.95),
        ["gray", "blue", "red", "green", "brown", "beige"],
        "free",
        _armchair,
    ),
    _e(
        "sofa",
        "sofa",
        (0.85, 1.0),
        (1.6, 2.3),
        (0.75, 0.9),
        ["gray", "blue", "red", "beige", "green", "brown", "black"],
        "wall",
        _sofa,
    ),
    _e(
        "table",
        "table",
        (0.8, 1.0),
        (1.2, 1.7),
        (0.72, 0.78),
        ["brown", "white", "black", "gray"],
        "free",
        _table,
    ),
    _e(
        "round table",
        "table",
        (0.9, 1.15),
        (0.9, 1.15),
        (0.72, 0.78),
        ["brown", "white", "black"],
        "free",
        _table,
    ),
    _e(
        "coffee table",
        "coffee table",
        (0.5, 0.7),
        (0.9, 1.3),
        (0.38, 0.48),
        ["brown", "black", "white", "gray"],
        "free",
        _coffee_table,
    ),
    _e(
        "desk",
        "desk",
        (0.6, 0.8),
        (1.1, 1.6),
        (0.72, 0.78),
        ["brown", "white", "black", "gray"],
        "wall",
        _desk,
    ),
    _e(
        "bookshelf",
        "bookshelf",
        (0.3, 0.4),
        (0.8, 1.2),
        (1.5, 2.1),
        ["brown", "white", "black"],
        "wall",
        _bookshelf,
    ),
    _e(
        "cabinet",
        "cabinet",
        (0.4, 0.6),
        (0.6, 1.2),
        (0.8, 1.2),
        ["brown", "white", "gray", "black"],
        "wall",
        _cabinet,
    ),
    _e(
        "kitchen counter",
        "kitchen counter",
        (0.6, 0.65),
        (1.4, 2.4),
        (0.88, 0.92),
        ["white", "gray", "brown", "black"],
        "wall",
        _kitchen_counter,
    ),
    _e(
        "refrigerator",
        "refrigerator",
        (0.65, 0.75),
        (0.6, 0.8),
        (1.7, 1.9),
        ["white", "silver", "black"],
        "corner",
        _refrigerator,
    ),
    _e(
        "stove", "stove", (0.6, 0.65), (0.6, 0.76), (0.88, 0.92), ["white", "silver", "black"], "wall", _stove
    ),
    _e("toilet", "toilet", (0.65, 0.75), (0.36, 0.42), (0.72, 0.8), ["white", "beige"], "wall", _toilet),
    _e(
        "sink",
        "sink",
        (0.45, 0.55),
        (0.55, 0.8),
        (0.85, 0.92),
        ["white", "gray", "beige", "brown"],
        "wall",
        _sink,
    ),
    _e("bathtub", "bathtub", (0.7, 0.8), (1.5, 1.7), (0.5, 0.6), ["white", "beige"], "corner", _bathtub),
    _e(
        "tv stand",
        "tv stand",
        (0.4, 0.5),
        (1.0, 1.6),
        (0.45, 0.6),
        ["black", "brown", "white"],
        "wall",
        _tv_stand,
    ),
    _e("tv", "tv", (0.18, 0.24), (0.8, 1.3), (0.5, 0.8), ["black", "silver"], "on", _screen),
    _e(
        "monitor",
        "monitor",
        (0.16, 0.22),
        (0.5, 0.65),
        (0.38, 0.5),
        ["black", "white", "silver"],
        "on",
        _screen,
    ),
    _e(
        "floor lamp",
        "lamp",
        (0.3, 0.4),
        (0.3, 0.4),
        (1.4, 1.7),
        ["white", "black", "yellow", "beige"],
        "corner",
        _floor_lamp,
    ),
    _e(
        "table lamp",
        "lamp",
        (0.22, 0.3),
        (0.22, 0.3),
        (0.38, 0.52),
        ["white", "black", "yellow", "beige"],
        "on",
        _table_lamp,
    ),
    _e("plant", "plant", (0.3, 0.5), (0.3, 0.5), (0.6, 1.4), ["green"], "corner", _plant),
    _e(
        "trash can",
        "trash can",
        (0.25, 0.4),
        (0.25, 0.4),
        (0.35, 0.7),
        ["gray", "black", "blue", "white", "green"],
        "corner",
        _trash_can,
    ),
    _e(
        "ottoman",
        "ottoman",
        (0.45, 0.6),
        (0.45, 0.8),
        (0.38, 0.45),
        ["gray", "brown", "beige", "blue", "red"],
        "free",
        _ottoman,
    ),
    _e(
        "whiteboard",
        "whiteboard",
        (0.05, 0.06),
        (1.2, 2.0),
        (0.9, 1.2),
        ["white"],
        "mounted",
        _whiteboard,
        mount_z=(0.85, 1.0),
    ),
]

CATALOGUE: dict[str, Category] = {e.key: e for e in _ENTRIES}

# Cylindrical objects have equal x/y extents (their footprint is a square of side = diameter).
_ROUND = {"office chair", "round table", "floor lamp", "table lamp", "plant", "trash can"}


def categories() -> list[str]:
    """Sorted distinct category labels of the catalogue (what can appear in ``SceneObject.category``)."""
    return sorted({e.label for e in _ENTRIES})


def sample_size(key: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw (sx, sy, sz) for a catalogue entry, rounded to the centimetre."""
    e = CATALOGUE[key]
    sx = round(float(rng.uniform(*e.size_x)), 2)
    sy = sx if key in _ROUND else round(float(rng.uniform(*e.size_y)), 2)
    sz = round(float(rng.uniform(*e.size_z)), 2)
    return (sx, sy, sz)


def sample_color(key: str, rng: np.random.Generator) -> tuple[str, tuple[int, int, int]]:
    """Draw a colour name from the entry's palette and a slightly jittered RGB for it."""
    e = CATALOGUE[key]
    name = e.colors[int(rng.integers(len(e.colors)))]
    jitter = rng.integers(-8, 9, size=3)
    rgb = tuple(int(v) for v in np.clip(np.asarray(COLORS[name]) + jitter, 0, 255))
    return name, rgb  # type: ignore[return-value]


def build_parts(
    key: str, size: tuple[float, float, float], rgb: tuple[int, int, int], rng: np.random.Generator
) -> tuple[Part, ...]:
    """Parts of a catalogue entry at a given size and colour (local frame, inside the object's box)."""
    return tuple(CATALOGUE[key].builder(size, rgb, rng))
