"""``ngcc112``: the command line. One subcommand per job; exit codes a sysadmin can script (:mod:`.exits`).

:func:`main` (the parser and the dispatch, :mod:`.dispatch`) is the ``ngcc112`` console script.
"""

from ngcc112.cli.dispatch import main

__all__ = ["main"]
