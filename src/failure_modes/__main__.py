"""``python -m failure_modes``: see :mod:`failure_modes.course.cli`."""

from failure_modes.course.cli import main

raise SystemExit(main())
