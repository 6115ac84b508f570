"""Readers for public benchmark formats; each returns canonical samples with the gold in `meta`."""

from synthloop.evaluate.benchmarks.aokvqa import read_aokvqa
from synthloop.evaluate.benchmarks.common import BenchmarkError
from synthloop.evaluate.benchmarks.gqa import read_gqa
from synthloop.evaluate.benchmarks.mmbench import circular_copies, read_mmbench
from synthloop.evaluate.benchmarks.scienceqa import read_scienceqa
from synthloop.evaluate.benchmarks.vqav2 import read_textvqa, read_vqav2

__all__ = ["BenchmarkError", "circular_copies", "read_aokvqa", "read_gqa", "read_mmbench", "read_scienceqa",
           "read_textvqa", "read_vqav2"]
