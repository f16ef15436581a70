"""Evaluation of a policy: the fixed held-out AZR tasks of the tiny base (heldout.py, heldout_report.py)."""
