"""`python -m framework ...` is the same as `labelwise ...`."""

import sys

from framework.cli.main import main

sys.exit(main())
