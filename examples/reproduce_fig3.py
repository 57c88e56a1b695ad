"""Paper Fig. 3: sine fits over the latent plane, and the shift disentanglement diagram.

    python examples/reproduce_fig3.py --out fig3 [--quick] [--seed 0]

The same as `shiftvae reproduce fig3`: PNGs and numbers.json (configuration, seed, numbers,
timings) in --out.  docs/reproduction.md compares the numbers with the paper.
"""

import sys

from shiftvae.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["reproduce", "fig3", *sys.argv[1:]]))
