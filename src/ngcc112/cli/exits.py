"""Exit codes a sysadmin can script: 0 done, 1 a check failed, 2 bad configuration or a fatal
fault (one clear line on stderr, no traceback)."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED, EXIT_FATAL = 0, 1, 2


def fatal(message: str) -> int:
    print(f"ngcc112: {message}", file=sys.stderr)
    return EXIT_FATAL
