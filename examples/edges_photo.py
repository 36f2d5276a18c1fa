"""Edge detection on a photo: Sobel and Scharr magnitudes, checked against scikit-image.

    python examples/edges_photo.py [PHOTO] [-o DIR] [--overwrite]

Without PHOTO it uses scikit-image's astronaut.  The photo is converted to grey (float32 in
[0, 1]); pyconv's Sobel and Scharr magnitudes are compared with skimage.filters.sobel/scharr
(the same numbers up to float32 rounding), timed, and written as 8-bit PNGs (scaled by their
maximum) into DIR (default ./edges-out, created; existing files are kept unless --overwrite).
"""
import argparse
import os
import sys
import time

import numpy as np
import skimage.filters as skf
from skimage import color, data, io

from pyconv import filters


def best_of(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo", nargs="?", help="image file (default: skimage's astronaut)")
    ap.add_argument("-o", "--output", default="edges-out", help="folder for the PNGs")
    ap.add_argument("--overwrite", action="store_true", help="replace existing PNGs")
    args = ap.parse_args(argv)
    try:
        rgb = io.imread(args.photo) if args.photo else data.astronaut()
    except (OSError, ValueError) as exc:
        print("edges_photo: cannot read %s: %s" % (args.photo, exc), file=sys.stderr)
        return 2
    grey = rgb if rgb.ndim == 2 else color.rgb2gray(rgb[..., :3])
    grey = np.asarray(grey, dtype=np.float32)
    if grey.max() > 1:
        grey = grey / np.float32(grey.max())
    os.makedirs(args.output, exist_ok=True)
    ok = True
    print("%-8s %10s %12s %9s %12s" % ("filter", "pyconv ms", "skimage ms", "speed-up",
                                       "max |diff|"))
    for name, ours_fn, ref_fn in (("sobel", filters.sobel, skf.sobel),
                                  ("scharr", filters.scharr, skf.scharr)):
        ours = ours_fn(grey)
        ref = ref_fn(grey.astype(np.float64))
        err = float(np.abs(ours - ref).max())
        ok &= err <= 1e-5 * max(1.0, float(ref.max()))
        t_ours, t_ref = best_of(lambda: ours_fn(grey)), best_of(lambda: ref_fn(grey), 3)
        print("%-8s %10.2f %12.2f %8.1fx %12.2e" % (name, t_ours * 1e3, t_ref * 1e3,
                                                     t_ref / t_ours, err))
        path = os.path.join(args.output, "%s.png" % name)
        if os.path.exists(path) and not args.overwrite:
            print("edges_photo: %s exists (use --overwrite)" % path, file=sys.stderr)
            return 2
        io.imsave(path, np.round(255 * ours / max(float(ours.max()), 1e-12)).astype(np.uint8),
                  check_contrast=False)
    print("PNGs in %s; %s" % (args.output, "OK" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
