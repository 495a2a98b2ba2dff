"""How a command reports a failure: one line on stderr, and the exit code that says what kind."""

from __future__ import annotations

import errno
import sys

from shop_analytics.exit_codes import ExitCode


def fail(command: str, message: str, code: ExitCode) -> int:
    """Print `shop-analytics <command>: error: <message>` and return `code`."""
    print(f"shop-analytics {command}: error: {message}", file=sys.stderr)
    return code


def operational(exc: BaseException) -> str:
    """One line for an operational failure: disk full, permission denied, I/O error, a lock held."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    errno_ = getattr(exc, "errno", None)
    lowered = text.lower()
    if errno_ == errno.ENOSPC or "no space left" in lowered or "could not write all bytes" in lowered:
        return f"disk full: {text}. Free space (or point SHOP_ANALYTICS_SERVING_ROOT elsewhere) and run it again"
    if errno_ in (errno.EACCES, errno.EPERM, errno.EROFS) or "permission" in lowered:
        return f"permission denied: {text}"
    return text
