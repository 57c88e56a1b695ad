"""Paper Fig. 8: beta grid search scored by physicality, with maps at selected grid points.

    python examples/reproduce_fig8.py --out fig8 [--quick] [--seed 0] [--image scan.dm3]

The same as `shiftvae reproduce fig8`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig8", *sys.argv[1:]]))
