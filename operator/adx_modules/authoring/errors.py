"""How the author tools fail: one error class whose message names the file and the field, and the
exit codes every ``adx-module-cli`` command shares.

Why it exists: an author runs these tools in CI; a failing step must say exactly what to fix,
and scripts must tell "your input is wrong" (2) from "the tool could not do it" (other codes).
"""

from __future__ import annotations

OK = 0
BAD_INPUT = 2
NO_SOLUTION = 3


class InputError(ValueError):
    """Bad input: the message names the file (or argument) and the field."""
