"""``python -m adx_module_sdk.points DIR``: the extension points ``DIR/src/module.py`` declares,
as JSON on stdout (``null`` when it defines no Module).

Why it exists: ``adx-module-cli package`` writes a module's API routes, workflows, UI and tables
into the manifest from the code that serves them, so the Module's ``extensionPoints`` never
drift from it. The author's code is imported in a process of its own, never in the CLI's.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from adx_module_sdk.process import LoadError, module_classes


def main() -> int:
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what the module prints is not the answer
            found = module_classes(Path(sys.argv[1]))
    except LoadError:
        found = []
    if len(found) > 1:
        names = ", ".join(c.__name__ for c in found)
        print(f"src/module.py defines more than one Module: {names}", file=sys.stderr)
        return 1
    print(json.dumps(found[0].extension_points() if found else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
