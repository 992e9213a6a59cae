"""The stub server's old name, kept for the commands and notes that use it:
`python -m framework.stub_server ...` runs `python -m framework.testing ...`, and
`from framework.stub_server import Reply, StubServer` still imports them."""

import sys

from framework.testing import Reply, StubServer, main

__all__ = ["Reply", "StubServer", "main"]

if __name__ == "__main__":
    print(
        "labelwise: framework.stub_server is now framework.testing "
        "(python -m framework.testing, or labelwise stub)",
        file=sys.stderr,
    )
    sys.exit(main(prog="python -m framework.stub_server"))
