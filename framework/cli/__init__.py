"""Layer 7, cli: `labelwise COMMAND` (main) and one module per command (commands/). Hydra
lives here and in config.load only."""
