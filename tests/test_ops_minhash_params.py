"""MinHash LSH bands and rows: the same optimum as datasketch's MinHashLSH picks, run beside ours."""

import pytest

from synthloop.ops.minhash_lsh import lsh_bands

datasketch_lsh = pytest.importorskip("datasketch.lsh")


@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_bands_and_rows_equal_datasketchs_optimum(num_perm):
    for threshold in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
        assert lsh_bands(threshold, num_perm) == datasketch_lsh._optimal_param(threshold, num_perm, 0.5, 0.5)
