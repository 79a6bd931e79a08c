"""`python -m deploy.local.runtime up|down|status|logs|fetch|env|jdk`."""

import sys

from .cli import main

sys.exit(main())
