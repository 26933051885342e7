"""Reports, regression gate and results export.

Importing this package points mteb's caches into the project first (mteb reads ``MTEB_CACHE``
at import time), so its modules may import mteb at module level.
"""

from embharness.paths import configure_environment

configure_environment()
