"""``python -m shiftvae`` runs the command line."""

from shiftvae.cli import main

raise SystemExit(main())
