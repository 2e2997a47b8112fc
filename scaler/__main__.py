import sys

from scaler import cli

sys.exit(cli.main())
