"""``python -m failover``: the ``failover`` command (``failover.cli``)."""

import sys

from failover.cli import main

sys.exit(main())
