#!/usr/bin/env python3
"""Starts the WS-Management test server (tests/winrm/README.md); start.sh runs this file.

Why this file exists: it puts the winrm_lab package beside it on the import path, so the
server runs from the repository without being installed.
"""

import sys

from winrm_lab.server import main

if __name__ == "__main__":
    sys.exit(main())
