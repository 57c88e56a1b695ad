"""Patches of an image, and the noise and background of its pixels."""
