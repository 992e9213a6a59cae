"""`python -m framework.testing [--port N] [--latency S] [--content TEXT] [--faults SPEC]`:
the stub server until Ctrl-C (framework.testing.standalone)."""

import sys

from framework.testing.standalone import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m framework.testing"))
