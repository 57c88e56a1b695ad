"""Paper Fig. 7: shift-VAE analysis of a real image.

    python examples/reproduce_fig7.py --out fig7 [--quick] [--seed 0] [--image scan.dm3]

The same as `shiftvae reproduce fig7`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig7", *sys.argv[1:]]))
