"""Getting images in and checking them: file readers, the HDF5 probe, HyperSpy, input checks."""
