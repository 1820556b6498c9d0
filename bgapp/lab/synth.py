"""Product-photo scenes rendered with exact masks: the project's own test, sample and benchmark images.

Real labelled product photos cannot reach this project's machines, so we draw studio shots whose
ground truth is known to the pixel: a product (bottle, box, jar, mug with a handle, ring, tube,
shoe-like shape) with shading, a specular highlight and a printed label, on a studio background
(white, light grey, gradient sweep, paper, fabric, wood-like), with a soft shadow that is part of
the background and never of the mask. Scenes are drawn at 3x and area-averaged, so the edges are
anti-aliased exactly like a camera's, and ``Scene.alpha`` is the true fractional coverage.

Everything is a pure function of its arguments: the same seed gives the same pixels everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SUPERSAMPLE = 3
BACKGROUNDS = ("white", "grey", "gradient", "paper", "fabric", "wood", "pastel")
PRODUCTS = ("bottle", "box", "jar", "mug", "ring", "tube", "shoe", "can")


@dataclass(frozen=True)
class Scene:
    """A rendered photo, its exact coverage (alpha) and the pure product colour behind every pixel."""

    name: str
    rgb: np.ndarray  # uint8 (H, W, 3): the photo
    alpha: np.ndarray  # float32 (H, W): fraction of each pixel covered by the product
    foreground: np.ndarray  # uint8 (H, W, 3): the product's own colour (what a perfect cut-out shows)
    shadow: np.ndarray  # float32 (H, W): how much the shadow darkens the background (0 = none)
    meta: dict = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        """Binary ground truth as float32: a pixel is product when more than half of it is covered."""
        return (self.alpha >= 0.5).astype(np.float32)


def render_scene(
    seed: int,
    size: tuple[int, int] = (640, 480),
    background: str | None = None,
    product: str | None = None,
    pale: bool = False,
    shadow: float | None = None,
    jpeg_quality: int | None = None,
    name: str | None = None,
) -> Scene:
    """Render one studio shot of (width, height) ``size``; unset choices are drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    background = background or str(rng.choice(BACKGROUNDS))
    product = product or str(rng.choice(PRODUCTS))
    shadow = float(rng.uniform(0.25, 0.55)) if shadow is None else float(shadow)
    width, height = size
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE

    scale = float(rng.uniform(0.45, 0.7)) * min(big_w, big_h)
    centre = (big_w / 2 + rng.uniform(-0.08, 0.08) * big_w, big_h / 2 + rng.uniform(-0.05, 0.08) * big_h)
    shape = _product_shape(product, (big_h, big_w), centre, scale, rng)
    colour = _product_colour(rng, pale)
    fg = _shade_product(shape, colour, product, rng)
    bg = _background(background, (big_h, big_w), rng, pale)
    shadow_map = _shadow(shape, shadow, rng)
    bg = bg * (1.0 - shadow_map[..., None])

    cover = shape.astype(np.float32)
    photo = fg * cover[..., None] + bg * (1.0 - cover[..., None])

    def down(a: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.resize(a, (width, height), interpolation=cv2.INTER_AREA))

    photo, alpha = down(photo), down(cover)
    fg_small, shadow_small = down(fg), down(shadow_map)
    photo = photo + rng.normal(0.0, 1.6, photo.shape).astype(np.float32)  # sensor noise
    rgb = np.clip(np.rint(photo), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
        rgb = rgb if decoded is None else np.ascontiguousarray(decoded[..., ::-1])
    label = name or f"{product}-on-{background}{'-pale' if pale else ''}-{seed}"
    return Scene(
        name=label,
        rgb=rgb,
        alpha=np.clip(alpha, 0, 1).astype(np.float32),
        foreground=np.clip(np.rint(fg_small), 0, 255).astype(np.uint8),
        shadow=shadow_small.astype(np.float32),
        meta={"seed": seed, "background": background, "product": product, "pale": pale, "shadow_strength": shadow},
    )


def studio_set(seed: int = 2024, count: int = 16, size: tuple[int, int] = (640, 480)) -> list[Scene]:
    """A fixed, varied set in which every product and background appears (pale products on white are
    scored as their own set by the benchmark: ``bench.pale_on_white``)."""
    scenes = []
    for index in range(count):
        product = PRODUCTS[index % len(PRODUCTS)]
        background = BACKGROUNDS[(index * 3) % len(BACKGROUNDS)]
        scenes.append(render_scene(seed * 1000 + index, size, background, product))
    return scenes


# --- shapes -------------------------------------------------------------------------------------


def _product_shape(
    kind: str, shape_hw: tuple[int, int], centre: tuple[float, float], scale: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask of the product, drawn with OpenCV primitives around ``centre``."""
    mask = np.zeros(shape_hw, np.uint8)
    cx, cy = centre
    s = scale

    def rect(x0: float, y0: float, x1: float, y1: float, radius: float = 0.0, value: int = 1) -> None:
        x0, y0, x1, y1 = (round(v) for v in (cx + x0 * s, cy + y0 * s, cx + x1 * s, cy + y1 * s))
        r = round(radius * s)
        r = min(r, (x1 - x0) // 2, (y1 - y0) // 2)
        if r <= 0:
            cv2.rectangle(mask, (x0, y0), (x1, y1), value, -1)
            return
        cv2.rectangle(mask, (x0 + r, y0), (x1 - r, y1), value, -1)
        cv2.rectangle(mask, (x0, y0 + r), (x1, y1 - r), value, -1)
        for px, py in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
            cv2.circle(mask, (px, py), r, value, -1)

    def ellipse(x: float, y: float, ax: float, ay: float, value: int = 1, thickness: int = -1) -> None:
        cv2.ellipse(
            mask,
            (int(cx + x * s), int(cy + y * s)),
            (max(1, int(ax * s)), max(1, int(ay * s))),
            0,
            0,
            360,
            value,
            thickness,
        )

    wide = float(rng.uniform(0.85, 1.15))
    if kind == "bottle":
        rect(-0.2 * wide, -0.15, 0.2 * wide, 0.5, 0.05)
        pts = np.array([[-0.2 * wide, -0.13], [0.2 * wide, -0.13], [0.07, -0.33], [-0.07, -0.33]])
        cv2.fillPoly(mask, [np.c_[cx + pts[:, 0] * s, cy + pts[:, 1] * s].astype(np.int32)], 1)
        rect(-0.065, -0.48, 0.065, -0.3, 0.01)
    elif kind == "box":
        rect(-0.3 * wide, -0.35, 0.22 * wide, 0.45)
        pts = np.array([[0.22 * wide, -0.35], [0.36 * wide, -0.45], [0.36 * wide, 0.35], [0.22 * wide, 0.45]])
        cv2.fillPoly(mask, [np.c_[cx + pts[:, 0] * s, cy + pts[:, 1] * s].astype(np.int32)], 1)
        pts = np.array([[-0.3 * wide, -0.35], [-0.16 * wide, -0.45], [0.36 * wide, -0.45], [0.22 * wide, -0.35]])
        cv2.fillPoly(mask, [np.c_[cx + pts[:, 0] * s, cy + pts[:, 1] * s].astype(np.int32)], 1)
    elif kind in ("jar", "can"):
        half = 0.28 * wide if kind == "jar" else 0.2 * wide
        top, bottom = (-0.3, 0.4) if kind == "jar" else (-0.42, 0.42)
        rect(-half, top, half, bottom)
        ellipse(0, bottom, half, 0.06)
        ellipse(0, top, half, 0.06)
        if kind == "jar":
            rect(-half * 0.85, top - 0.12, half * 0.85, top, 0.02)
    elif kind == "mug":
        rect(-0.24 * wide, -0.3, 0.2 * wide, 0.35, 0.04)
        ellipse(0.27 * wide, 0.02, 0.16, 0.17, 1, thickness=max(2, int(0.055 * s)))  # handle: a hole stays a hole
    elif kind == "ring":
        ellipse(0, 0.05, 0.38, 0.3, 1, thickness=max(3, int(0.09 * s)))
        ellipse(0, -0.3, 0.1, 0.09)  # the stone
    elif kind == "tube":
        pts = np.array([[-0.12, -0.35], [0.12, -0.35], [0.22, 0.38], [-0.22, 0.38]]) * [wide, 1]
        cv2.fillPoly(mask, [np.c_[cx + pts[:, 0] * s, cy + pts[:, 1] * s].astype(np.int32)], 1)
        rect(-0.22 * wide, 0.36, 0.22 * wide, 0.42)
        rect(-0.07, -0.47, 0.07, -0.34, 0.02)
    elif kind == "shoe":
        pts = np.array(
            [
                [-0.45, 0.25],
                [-0.45, 0.05],
                [-0.2, -0.05],
                [-0.05, -0.3],
                [0.15, -0.3],
                [0.2, -0.05],
                [0.45, 0.08],
                [0.48, 0.25],
                [0.4, 0.3],
                [-0.4, 0.3],
            ]
        ) * [wide, 1]
        cv2.fillPoly(mask, [np.c_[cx + pts[:, 0] * s, cy + pts[:, 1] * s].astype(np.int32)], 1)
    else:
        raise ValueError(f"unknown product {kind!r}")
    return mask.astype(bool)


def _product_colour(rng: np.random.Generator, pale: bool) -> np.ndarray:
    if pale:
        return rng.uniform(222, 240, 3) - np.array([0, 0, rng.uniform(0, 10)])
    palette = np.array(
        [
            [200, 40, 45],
            [30, 80, 170],
            [35, 120, 60],
            [25, 25, 30],
            [235, 160, 30],
            [120, 60, 140],
            [160, 110, 70],
            [90, 95, 100],
            [220, 90, 140],
            [20, 140, 150],
        ]
    )
    return palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.1) + rng.normal(0, 8, 3)


def _shade_product(mask: np.ndarray, colour: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Product colour field: cylindrical shading, a specular stripe, a printed label with texture."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    u = (np.arange(width, dtype=np.float32) - x0) / max(1, x1 - x0)  # 0..1 across the product
    v = (np.arange(height, dtype=np.float32) - y0) / max(1, y1 - y0)
    light = float(rng.uniform(0.3, 0.45))
    shade = 0.62 + 0.45 * np.cos(np.clip(u - light, -1, 1) * np.pi * 0.95)  # round body, lit from one side
    shade = np.clip(shade, 0.35, 1.12)[None, :] * (1.0 - 0.12 * v[:, None])
    field = np.clip(colour[None, None, :] * shade[..., None], 0, 255).astype(np.float32)
    glossy = kind in ("bottle", "can", "jar", "mug", "ring") or rng.random() < 0.3
    if glossy:
        stripe = np.exp(-(((u - light + 0.12) / 0.035) ** 2))[None, :, None]
        field = field + (250 - field) * 0.75 * stripe
    if kind in ("bottle", "jar", "can", "box", "tube") and rng.random() < 0.85:
        ly0, ly1 = int(y0 + 0.45 * (y1 - y0)), int(y0 + 0.75 * (y1 - y0))
        lx0, lx1 = int(x0 + 0.08 * (x1 - x0)), int(x0 + 0.92 * (x1 - x0))
        label_colour = rng.uniform(30, 250, 3)
        field[ly0:ly1, lx0:lx1] = label_colour * shade[ly0:ly1, lx0:lx1, None]
        text_colour = tuple(float(c) for c in (255 - label_colour))
        for row in range(3):
            y = int(ly0 + (row + 1) * (ly1 - ly0) / 4)
            cv2.putText(
                field,
                "BRAND" if row == 0 else f"no.{rng.integers(10, 99)}",
                (lx0 + 10, y),
                cv2.FONT_HERSHEY_SIMPLEX,
                (lx1 - lx0) / 260.0,
                text_colour,
                max(1, (lx1 - lx0) // 90),
            )
    grain = cv2.GaussianBlur(rng.normal(0, 6, (height, width)).astype(np.float32), (0, 0), 2)
    return np.clip(field + grain[..., None], 0, 255)


def _background(kind: str, shape_hw: tuple[int, int], rng: np.random.Generator, pale: bool) -> np.ndarray:
    height, width = shape_hw
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    if kind == "white":
        base = np.full((height, width), rng.uniform(246, 254), np.float32)
        rgb = np.repeat(base[..., None], 3, 2)
    elif kind == "grey":
        rgb = np.full((height, width, 3), rng.uniform(200, 228), np.float32)
    elif kind == "gradient":
        top, bottom = rng.uniform(235, 252), rng.uniform(175, 215)
        sweep = top + (bottom - top) * np.clip((y - 0.35) / 0.65, 0, 1) ** 1.5
        vignette = 1.0 - 0.08 * ((x - 0.5) ** 2 * 4)
        rgb = np.repeat((sweep * vignette)[..., None], 3, 2) * np.array([1.0, 0.995, 0.985], np.float32)
    elif kind == "pastel":
        tint = rng.uniform(200, 245, 3).astype(np.float32)
        rgb = tint[None, None, :] * (1.0 - 0.1 * y[..., None]) * np.ones((1, width, 1), np.float32)
    elif kind in ("paper", "fabric", "wood"):
        tone = rng.uniform(205, 235, 3).astype(np.float32) * (np.array([1.0, 0.96, 0.9]) if kind == "wood" else 1.0)
        noise = rng.normal(0, 1, (height, width)).astype(np.float32)
        if kind == "paper":
            texture = cv2.GaussianBlur(noise, (0, 0), 6) * 30 + cv2.GaussianBlur(noise, (0, 0), 1.5) * 6
        elif kind == "fabric":
            weave = np.sin(x * width / 7.0) * np.sin(y * height / 7.0) * 6
            texture = weave + cv2.GaussianBlur(noise, (0, 0), 2) * 8
        else:
            bend = _blur_large(noise, 40) * 900
            texture = np.sin((y * 60 + bend / height) * np.pi) * 10 + cv2.GaussianBlur(noise, (0, 0), 1.2) * 6
        rgb = tone[None, None, :] + texture[..., None]
    else:
        raise ValueError(f"unknown background {kind!r}")
    return np.clip(rgb.astype(np.float32), 0, 255)


def _shadow(mask: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A soft contact shadow under the product and a drop shadow cast to one side; 0 where no shadow."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    x0, x1, y1 = xs.min(), xs.max(), ys.max()
    canvas = np.zeros((height, width), np.float32)
    if strength <= 0:
        return canvas
    contact_h = max(4, int(0.05 * (x1 - x0)))
    cv2.ellipse(canvas, (int((x0 + x1) / 2), int(y1)), (int(0.55 * (x1 - x0)), contact_h), 0, 0, 360, 1.0, -1)
    canvas = _blur_large(canvas, max(2.0, contact_h * 0.8))
    offset = int(rng.uniform(-0.12, 0.12) * width), int(rng.uniform(0.01, 0.04) * height)
    drop: np.ndarray = np.zeros_like(canvas)
    drop[max(0, offset[1]) :, :] = np.roll(mask, offset[0], axis=1)[: height - max(0, offset[1]), :]
    drop = _blur_large(drop.astype(np.float32), 0.025 * width) * 0.45
    return np.clip((canvas + drop) * strength, 0, 0.85)


def _blur_large(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with a wide sigma, computed on a smaller copy: same result to the eye, a fraction of the time."""
    factor = int(max(1, sigma // 4))
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
