"""``python -m bench``: run the benchmark suite."""

from __future__ import annotations

from .run import main

raise SystemExit(main())
