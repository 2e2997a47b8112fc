"""One module per `ebb` subcommand: argument wiring and output formatting only; the work lives elsewhere."""
