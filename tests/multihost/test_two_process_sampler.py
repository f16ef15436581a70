"""Two JAX processes split a generate call at max_rows_per_call: both make the same number of device calls
even with unequal prompt counts, and each gets back exactly the rows of a single call, indexed in its list."""

import os

import pytest

from multihost_helpers import run_driver

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampler_driver.py")


@pytest.mark.slow
def test_process_local_generate_split_into_calls(tmp_path):
    outs, _ = run_driver(DRIVER, [], tmp_path, "sampler", timeout_s=600)
    for record, count in zip(outs, (5, 2)):
        for n in (1, 2):
            whole, split = record[f"n{n}_cap0"], record[f"n{n}_cap{4 * n}"]
            assert whole["calls"] == 1
            assert split["calls"] == 3  # process 0's 5 prompts, 2 per call; process 1 joins with none in call 3
            assert [row[:2] for row in split["rows"]] == [[p, s] for p in range(count) for s in range(n)]
            assert split["rows"] == whole["rows"]  # greedy: the same tokens whichever call a prompt is in
            assert split["streamed"] == [row[:2] for row in split["rows"]]
