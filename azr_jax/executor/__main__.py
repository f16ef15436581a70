"""`python -m azr_jax.executor`: see cli.py."""

import sys

from azr_jax.executor.cli import main

sys.exit(main())
