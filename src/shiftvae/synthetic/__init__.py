"""Generated data with known truth, in one namespace (``sv.synthetic``): the paper's sine
segments and square lattices (:mod:`.paper`), the order-parameter family of two-sublattice
crystals (:mod:`.crystals`), sublattices that look alike (:mod:`.alike_crystals`), grains
(:mod:`.grains`) and edge dislocations (:mod:`.dislocations`)."""

from shiftvae.synthetic.crystals import (
    CrystalTruth,
    Microscope,
    benchmark_family,
    bfo_like_stripes,
    displacement_domain_crystal,
    intensity_ratio_crystal,
    particles_on_support,
    sto_like_crystal,
    two_phase_crystal,
)
from shiftvae.synthetic.dislocations import DislocationTruth, edge_dislocations
from shiftvae.synthetic.paper import lattice_image, lattice_patches, sine_waves

__all__ = [
    "CrystalTruth",
    "DislocationTruth",
    "Microscope",
    "benchmark_family",
    "bfo_like_stripes",
    "displacement_domain_crystal",
    "edge_dislocations",
    "intensity_ratio_crystal",
    "lattice_image",
    "lattice_patches",
    "particles_on_support",
    "sine_waves",
    "sto_like_crystal",
    "two_phase_crystal",
]
