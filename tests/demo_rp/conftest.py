"""Makes ``examples/`` importable so that ``import demo_rp`` works, as it does under uvicorn --app-dir."""

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
