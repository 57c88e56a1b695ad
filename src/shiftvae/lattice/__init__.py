"""The lattice of a whole image: its registration (which sublattice is which, decided once)."""
