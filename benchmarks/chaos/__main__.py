"""`python -m benchmarks.chaos`: see the package's docstring."""

import sys

from benchmarks.chaos.run import main

sys.exit(main(sys.argv[1:]))
