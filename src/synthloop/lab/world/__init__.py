"""The embedded default: a rendered visual world with ground truth, packaged real data and labelled noise."""

from synthloop.lab.world import noise, packaged
from synthloop.lab.world.generate import (BENCH_SEED_BASE, QTYPES, benchmark, family_messages, generate, iter_generate,
                                          make_sample)

__all__ = ["BENCH_SEED_BASE", "QTYPES", "benchmark", "family_messages", "generate", "iter_generate", "make_sample",
           "noise", "packaged"]
