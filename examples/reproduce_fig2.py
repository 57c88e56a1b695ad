"""Paper Fig. 2: VAE vs shift-VAE latent distributions on 1D sine waves, and the decoded manifolds.

    python examples/reproduce_fig2.py --out fig2 [--quick] [--seed 0]

The same as `shiftvae reproduce fig2`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig2", *sys.argv[1:]]))
