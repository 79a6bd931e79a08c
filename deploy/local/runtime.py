"""The old entry point, kept for scripts and habits: `python deploy/local/runtime.py up|down|...`
runs the package `deploy.local.runtime` (`python -m deploy.local.runtime`), which holds the code."""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, Python puts deploy/local first on the path; the package lives in the repo.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from deploy.local.runtime.cli import main

    sys.exit(main())
