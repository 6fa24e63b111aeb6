"""`python -m lintseq_assets.cli ...`: the `lintseq` command without the console script."""

import sys

from lintseq_assets.cli.main import main

sys.exit(main())
