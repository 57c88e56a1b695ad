"""Many fits on Dask: the grid search, the Bayesian study, fit-many, and their records.

``executors.py`` opens a local or remote Dask runner; ``sweep.py``, ``tune.py`` and
``batch.py`` submit fits to it and record each run (``records.py``); ``sweep_report.py`` and
``tune_report.py`` draw a sweep's and a study's summary from those records.  The runs write
each fit's outputs through :mod:`shiftvae.report`, which never imports this package.
"""
