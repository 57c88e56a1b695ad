"""The explorable view of a fit (linked maps, patches, reconstructions and decoded motifs),
for report.html and for notebooks: :mod:`shiftvae.explore.explorer`."""

from shiftvae.explore.explorer import ExplorerData, explorer_data, explorer_html, explorer_layout

__all__ = ["ExplorerData", "explorer_data", "explorer_html", "explorer_layout"]
