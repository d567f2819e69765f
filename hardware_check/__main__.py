"""`python -m hardware_check`: the same as the `hardware-check` console script."""

from hardware_check.cli import main

raise SystemExit(main())
