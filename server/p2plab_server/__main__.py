"""``python -m p2plab_server``: the same as ``p2plab-server``."""

import sys

from .cli import main

sys.exit(main())
