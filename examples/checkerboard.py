"""Why transposed convolutions paint checkerboards, as one picture.

Runs in about a second:  python examples/checkerboard.py [-o DIR] [--overwrite]

A transposed convolution with stride 2 paints one copy of its kernel per input pixel, two
pixels apart.  A 3x3 kernel then covers some output pixels once, some twice and some four
times (pyconv.shapes.overlap_map), so even a constant image comes out as a checkerboard.
A 4x4 kernel (the stride divides the kernel size) covers every interior pixel the same
number of times, and so does resize-then-convolve (nearest-neighbour upsampling by 2, then a
stride-1 3x3 convolution), the fix of Odena, Dumoulin and Olah, "Deconvolution and
Checkerboard Artifacts" (Distill, 2016).

Writes DIR/checkerboard.png (default DIR: ./checkerboard_output), five panels from left to
right, and prints the interior min/max of each:

1. overlap map, k=3 s=2        2. overlap map, k=4 s=2
3. transposed conv of a constant image, uniform 3x3 kernel, stride 2
4. the same with a uniform 4x4 kernel
5. nearest-neighbour upsample x2 followed by a uniform 3x3 conv, stride 1
"""
import argparse
import os
import sys

import numpy as np

import pyconv
from pyconv.shapes import overlap_map

SIZE = 8            # input side; every panel is 2 * SIZE = 16 pixels wide
ZOOM = 16           # screen pixels per panel pixel in the PNG without matplotlib
FILENAME = "checkerboard.png"
BORDER = 2          # output pixels at each edge that not every kernel copy can reach


def compute():
    """The five maps, as (title, 2-D array, border to drop for the interior)."""
    image = np.ones((1, 1, SIZE, SIZE))               # a constant image, (N, C, H, W)
    panels = []
    # k=3, s=2, padding 1, output_padding 1 and k=4, s=2, padding 1 both give 2*SIZE pixels
    for k, pad, opad in [(3, 1, 1), (4, 1, 0)]:
        panels.append(("overlap k=%d s=2" % k,
                       overlap_map((SIZE, SIZE), k, stride=2, padding=pad,
                                   output_padding=opad), BORDER))
    for k, pad, opad in [(3, 1, 1), (4, 1, 0)]:
        weight = np.full((1, 1, k, k), (2 / k) ** 2)   # uniform; a flat response would be 1
        out = pyconv.conv_transpose2d(image, weight, stride=2, padding=pad, output_padding=opad)
        panels.append(("transposed conv k=%d s=2" % k, out[0, 0], BORDER))
    upsampled = image.repeat(2, axis=2).repeat(2, axis=3)
    out = pyconv.conv2d(upsampled, np.full((1, 1, 3, 3), 1 / 9), padding=1)
    panels.append(("resize x2 + conv k=3 s=1", out[0, 0], 1))
    return panels


def interior(array, border):
    return array[border:array.shape[0] - border, border:array.shape[1] - border]


def report(panels):
    print("%-26s %13s %13s  %s" % ("map", "interior min", "interior max", "interior"))
    for title, array, border in panels:
        inner = interior(array, border)
        lo, hi = float(inner.min()), float(inner.max())
        print("%-26s %13.4f %13.4f  %s" % (title, lo, hi,
                                           "flat" if np.isclose(lo, hi) else "checkerboard"))


def write_png(panels, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
        for ax, (title, array, border) in zip(axes, panels):
            im = ax.imshow(array, cmap="viridis", vmin=0, interpolation="nearest")
            ax.set_title(title, fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        fig.suptitle("transposed convolutions, stride 2: uneven overlap paints a checkerboard")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return
    # no matplotlib: grey panels (black = 0, white = the panel's maximum) side by side on a
    # blue background
    gap = ZOOM // 2
    tiles = []
    for _, array, _ in panels:
        scaled = np.asarray(array, dtype=np.float64) / max(float(np.max(array)), 1e-12)
        tile = np.kron(scaled, np.ones((ZOOM, ZOOM)))
        tiles += [tile, np.full((tile.shape[0], gap), np.nan)]
    grey = np.pad(np.hstack(tiles[:-1]), gap, constant_values=np.nan)
    picture = np.repeat(np.round(255 * np.nan_to_num(grey))[..., None], 3, axis=2)
    picture[np.isnan(grey)] = (70, 110, 170)
    picture = picture.astype(np.uint8)
    try:
        import imageio.v3 as iio
        iio.imwrite(path, picture)
    except ImportError:
        from skimage import io
        io.imsave(path, picture, check_contrast=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", metavar="DIR", default="checkerboard_output",
                        help="folder for %s (default: ./checkerboard_output)" % FILENAME)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace %s if it is already there" % FILENAME)
    args = parser.parse_args(argv)
    path = os.path.join(args.output, FILENAME)
    if os.path.exists(path) and not args.overwrite:
        parser.error("%s exists; pass --overwrite to replace it" % path)
    panels = compute()
    report(panels)
    os.makedirs(args.output, exist_ok=True)
    write_png(panels, path)
    print("wrote %s" % os.path.abspath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
