"""``python -m ngcc112.cli``: the ``ngcc112`` command."""

import sys

from ngcc112.cli import main

sys.exit(main())
