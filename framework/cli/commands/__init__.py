"""One module per `labelwise` command, each with `run(argv) -> exit code`."""
