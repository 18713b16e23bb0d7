"""Draws the XRayView app icon with Pillow and writes resources/icons/xrayview.{png,ico,icns} + xrayview-<n>.png.

Run from the repository root:  .venv/bin/python installer/make_icons.py
The picture: a chest radiograph in miniature (dark lungs, spine, ribs, clavicles) on a rounded slate tile, with a
warm Grad-CAM-style spot on one lung: "X-ray viewer with on-device AI". Drawn at 1024 px and shrunk (Lanczos),
so small sizes stay smooth. Deterministic: same Pillow -> same files.
"""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "resources" / "icons"
SIZE = 1024
PNG_SIZES = (16, 32, 48, 64, 128, 256)  # 512: xrayview.png
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def _tile() -> Image.Image:
    """Rounded square with a vertical slate gradient."""
    gradient = Image.new("RGBA", (SIZE, SIZE))
    top, bottom = (44, 62, 80), (16, 24, 33)
    draw = ImageDraw.Draw(gradient)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        draw.line([(0, y), (SIZE, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)) + (255,))
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rounded_rectangle([40, 40, SIZE - 40, SIZE - 40], radius=200, fill=255)
    gradient.putalpha(mask)
    return gradient


def _radiograph() -> Image.Image:
    """Gray chest: bright body, dark lungs, spine, ribs and clavicles, blurred like a real film."""
    film = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(film)
    draw.ellipse([170, 150, 854, 960], fill=150)  # thorax soft tissue
    for cx in (380, 644):  # lungs
        draw.ellipse([cx - 150, 250, cx + 150, 850], fill=40)
    draw.ellipse([420, 560, 640, 840], fill=150)  # heart shadow over the left lung
    draw.rectangle([487, 170, 537, 940], fill=215)  # spine
    for side in (-1, 1):  # clavicles
        draw.line([(512, 260), (512 + side * 300, 215)], fill=230, width=34)
    for i in range(6):  # ribs: arcs from the spine outwards and down
        y = 300 + i * 88
        for side in (-1, 1):
            points = []
            for k in range(40):
                t = k / 39
                x = 512 + side * (40 + 270 * math.sin(t * math.pi * 0.55))
                points.append((x, y + 70 * t * t - 30 * math.sin(t * math.pi)))
            draw.line(points, fill=200, width=20, joint="curve")
    return film.filter(ImageFilter.GaussianBlur(9))


def _heat_spot() -> Image.Image:
    """A warm Grad-CAM-like spot (yellow core, red rim), transparent elsewhere."""
    spot = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(spot)
    cx, cy = 660, 480
    for radius, colour in ((150, (220, 40, 30, 150)), (105, (245, 120, 30, 180)), (60, (255, 220, 60, 210))):
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=colour)
    return spot.filter(ImageFilter.GaussianBlur(28))


def draw_icon() -> Image.Image:
    icon = _tile()
    film = _radiograph()
    film_rgba = Image.merge("RGBA", (film, film, film, Image.new("L", (SIZE, SIZE), 255)))
    film_mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(film_mask).rounded_rectangle([120, 120, SIZE - 120, SIZE - 120], radius=120, fill=255)
    film_mask = ImageChops.multiply(film_mask, icon.getchannel("A"))
    icon.paste(film_rgba, (0, 0), film_mask)
    icon.alpha_composite(_heat_spot())
    # thin light frame around the film, like a viewer's image pane
    ImageDraw.Draw(icon).rounded_rectangle([120, 120, SIZE - 120, SIZE - 120], radius=120,
                                           outline=(120, 200, 230, 255), width=16)
    return icon


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.resize((512, 512), Image.Resampling.LANCZOS).save(OUT / "xrayview.png", optimize=True)
    for size in PNG_SIZES:
        icon.resize((size, size), Image.Resampling.LANCZOS).save(OUT / f"xrayview-{size}.png", optimize=True)
    icon.resize((256, 256), Image.Resampling.LANCZOS).save(OUT / "xrayview.ico", sizes=ICO_SIZES)
    icon.save(OUT / "xrayview.icns")  # Pillow writes the 16..1024 px members itself
    for path in sorted(OUT.iterdir()):
        print(f"{path.name:20s} {path.stat().st_size:8d} bytes")


if __name__ == "__main__":
    main()
