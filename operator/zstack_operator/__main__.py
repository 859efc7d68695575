"""``python -m zstack_operator`` runs the same command as the ``zstack-operator`` script."""

import sys

from .cli import main

sys.exit(main())
