"""synthloop: a closed-loop data engine for multimodal LLM training data."""

import os

# OpenMP threads that spin while waiting stall badly when the CPU is shared (a 2-core laptop running
# anything else): TinyVLM training measured 7x slower with 2 spinning threads than with passive ones.
# Must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
