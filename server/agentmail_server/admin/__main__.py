"""``python -m agentmail_server.admin``: the same as ``agentmail-admin``."""

import sys

from agentmail_server.admin.cli import main

sys.exit(main())
