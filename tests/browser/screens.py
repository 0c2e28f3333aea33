"""A tolerant pixel comparison of screenshots, run in the browser itself (no image library).

Why tolerant: the same page renders with slightly different glyph edges on another machine's
fonts or hinting (antialiasing), and a row or two may move by a pixel. A pixel counts as
different only when neither the same pixel nor any of its neighbours (up to `reach` pixels away)
in the other picture is within `threshold` on every channel, so antialiased edges and small
shifts (a glyph or a plot label moved by a pixel or two: the plot is drawn at the panel's width,
which a scrollbar may change for a moment) pass, while a changed shape, colour or text does not
(its differing pixels cluster in a tile). Sizes may differ by a few pixels (a font's line
height): the part outside the common area counts as different.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TypedDict

from playwright.sync_api import Page

DIFF_JS = """async ([a, b, threshold, reach]) => {
  const load = (src) => new Promise((ok, bad) => {
    const img = new Image(); img.onload = () => ok(img); img.onerror = bad; img.src = src;
  });
  const pixels = (img) => {
    const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
    const g = c.getContext('2d'); g.drawImage(img, 0, 0);
    return { w: img.width, h: img.height, d: g.getImageData(0, 0, img.width, img.height).data };
  };
  const [pa, pb] = (await Promise.all([load(a), load(b)])).map(pixels);
  const w = Math.min(pa.w, pb.w), h = Math.min(pa.h, pb.h);
  const near = (p, x, y, q, qx, qy) => {
    const i = (y * p.w + x) * 4, j = (qy * q.w + qx) * 4;
    return Math.abs(p.d[i] - q.d[j]) <= threshold && Math.abs(p.d[i + 1] - q.d[j + 1]) <= threshold
      && Math.abs(p.d[i + 2] - q.d[j + 2]) <= threshold;
  };
  const matched = (p, q, x, y) => {
    for (let dy = -reach; dy <= reach; dy++) for (let dx = -reach; dx <= reach; dx++) {
      const qx = x + dx, qy = y + dy;
      if (qx >= 0 && qy >= 0 && qx < w && qy < h && near(p, x, y, q, qx, qy)) return true;
    }
    return false;
  };
  let differ = 0;
  const tiles = new Map();
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (near(pa, x, y, pb, x, y)) continue;
    if (!matched(pa, pb, x, y) || !matched(pb, pa, x, y)) {
      differ++;
      const key = `${x >> 4},${y >> 4}`;
      tiles.set(key, (tiles.get(key) ?? 0) + 1);
    }
  }
  const total = Math.max(pa.w, pb.w) * Math.max(pa.h, pb.h);
  let worst = 0, where = '';
  for (const [key, n] of tiles) if (n > worst) { worst = n; where = key; }
  return { differ: differ + (total - w * h), total, sizes: [[pa.w, pa.h], [pb.w, pb.h]],
           worst_tile: worst, worst_at: where };
}"""


class Diff(TypedDict):
    """Pixels that differ (antialiasing forgiven), of all, and the two pictures' sizes."""

    differ: int
    total: int
    sizes: list[list[int]]
    worst_tile: int
    worst_at: str


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def compare(
    page: Page, actual: bytes, reference: bytes, threshold: int = 40, reach: int = 2
) -> Diff:
    """Compare two PNGs in `page` (a blank one is best: it is navigated to about:blank)."""
    page.goto("about:blank")
    result: Diff = page.evaluate(
        DIFF_JS, [_data_url(actual), _data_url(reference), threshold, reach]
    )
    return result


MAX_SHARE = 0.005
"""At most half a percent of the pixels may differ overall (spread-out rendering noise)..."""
MAX_TILE = 24
"""...and at most this many in any 16 x 16 tile: a changed number or shape is a cluster, while
noise that survives the neighbour test is thin (a tile is 256 pixels)."""


def same_picture(diff: Diff) -> bool:
    """Whether the two pictures show the same thing, within the tolerances above."""
    return diff["differ"] <= MAX_SHARE * diff["total"] and diff["worst_tile"] <= MAX_TILE


def read_reference(path: Path) -> bytes:
    """A committed reference picture; a clear failure saying how to make one when missing."""
    if not path.exists():
        raise AssertionError(
            f"{path} is missing: run the test with TVTT_UPDATE_REFERENCES=1 to write it, look at"
            " it, and commit it (docs/play.md, 'Browser tests')"
        )
    return path.read_bytes()
