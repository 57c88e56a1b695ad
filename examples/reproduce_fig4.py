"""Paper Fig. 4: 2D synthetic lattice: latent collapse of the shift-VAE.

    python examples/reproduce_fig4.py --out fig4 [--quick] [--seed 0]

The same as `shiftvae reproduce fig4`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig4", *sys.argv[1:]]))
