"""Writing benchmark results into ``docs/benchmarks.md``, one marked section per benchmark.

Why it exists: every benchmark owns a section between ``<!-- bench:NAME -->`` markers, so a run
of one benchmark replaces its own numbers and leaves the others' alone.
"""

from __future__ import annotations

import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Measured by `make bench` on the development machine (2 cores, 24 GiB). Each section is
rewritten by its benchmark; the date and commit say when.
"""


def machine() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{when}, commit {commit or 'unknown'}, Python {platform.python_version()}"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of ``doc`` (docs/benchmarks.md) with ``body``."""
    text = doc.read_text() if doc.exists() else HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    section = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else f"{text}\n{section}\n"
    doc.write_text(text)
