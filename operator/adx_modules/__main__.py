"""``python -m adx_modules ROLE``: the same as ``adx-module-service ROLE``."""

import sys

from adx_modules.service.cli import service_main

sys.exit(service_main())
