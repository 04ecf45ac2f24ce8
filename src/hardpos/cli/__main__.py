"""``python -m hardpos.cli``: the same as the ``hardpos`` command."""

import sys

from hardpos.cli import main

sys.exit(main())
