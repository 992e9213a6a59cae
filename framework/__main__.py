"""`python -m framework ...` is the same as `labelwise ...`."""

import sys

from framework.cli.main import main

if __name__ == "__main__":  # a worker process (run.workers) imports this module again
    sys.exit(main())
