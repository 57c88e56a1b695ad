"""Paper Fig. 6: plain VAE analysis of a real image.

    python examples/reproduce_fig6.py --out fig6 [--quick] [--seed 0] [--image scan.dm3]

The same as `shiftvae reproduce fig6`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig6", *sys.argv[1:]]))
