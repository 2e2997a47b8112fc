"""`python -m scaler.cli` runs the `ebb` command (the tests call it so, without the console script)."""

import sys

from scaler import cli

sys.exit(cli.main())
