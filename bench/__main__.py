"""`python -m bench [--quick] [--out DIR]`: run every benchmark, print a table, save JSON."""

import sys

from bench.run import main

sys.exit(main())
