"""``python -m failover.cli``: the ``failover`` command."""

import sys

from failover.cli import main

sys.exit(main())
