"""`python -m edge.cli`: the same as the `kezek` console script."""

from edge.cli import main

raise SystemExit(main())
