# SPDX-License-Identifier: Apache-2.0
"""`python -m local.cli`: the `mlops` command."""

import sys

from local.cli import main

sys.exit(main())
