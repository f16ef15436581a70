"""Task buffers: seeding, dedup, newest-kept cap, reproducible sampling, JSON round trip, solver batches."""

import json
from collections import Counter

import numpy as np
import pytest

from azr_jax.azr.buffers import TaskBuffer, TaskBuffers
from azr_jax.azr.config import AZRConfig
from azr_jax.azr.tasks import InductionTask, TaskType, Triplet, identity_triplet

D, A, I = TaskType.DEDUCTION, TaskType.ABDUCTION, TaskType.INDUCTION


def trip(k: int) -> Triplet:
    return Triplet(f"def f(a):\n    return a + {k}", str(k), str(2 * k))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_initial_buffers_and_seeding():
    bufs = TaskBuffers.initial(AZRConfig(seed_size=3))
    assert bufs[D].tasks == (identity_triplet(),) and bufs[A].tasks == (identity_triplet(),)
    assert len(bufs[I]) == 0 and not bufs.seeded(3)
    refs = bufs.references(I, 6, rng())
    assert refs == [identity_triplet()]  # induction draws its one program from deduction + abduction
    for t in (D, A):
        bufs[t].extend(trip(k) for k in range(2))
    bufs[I].add(InductionTask("def f(a):\n    return a", ("1", "2"), ("1", "2"), "m"))
    assert not bufs.seeded(3)
    bufs[I].add(InductionTask("def f(a):\n    return a", ("3", "4"), ("3", "4"), "m"))
    bufs[I].add(InductionTask("def f(a):\n    return -a", ("3", "4"), ("-3", "-4"), "m"))
    assert bufs.seeded(3) and not bufs.seeded(4)


def test_dedup_by_normalised_program_and_input():
    b = TaskBuffer(D)
    assert b.add(Triplet("def f(a):\n    return a+1", "1,2", "x"))
    assert not b.add(Triplet("def f(a):   # same\n    return (a + 1)", " 1, 2", "y"))
    assert b.add(Triplet("def f(a):\n    return a+1", "1, 3", "x"))
    assert len(b) == 2 and b.stats["duplicates"] == 1
    i = TaskBuffer(I)
    assert i.add(InductionTask("def f(a):\n    return a", ("1", "2"), ("1", "2"), "m"))
    assert not i.add(InductionTask("def f(a): return a", ("1", "2"), ("1", "2"), "other message"))
    with pytest.raises(TypeError):
        b.add(InductionTask("def f(a):\n    return a", ("1", "2"), ("1", "2"), "m"))
    with pytest.raises(TypeError):
        i.add(trip(1))


def test_cap_keeps_the_newest():
    b = TaskBuffer(D, cap=3)
    added = b.extend(trip(k) for k in range(5))
    assert added == [trip(k) for k in range(5)]
    assert b.tasks == (trip(2), trip(3), trip(4)) and b.stats["evicted"] == 2
    assert b.add(trip(0))  # an evicted task may come back
    assert b.tasks == (trip(3), trip(4), trip(0))
    assert not b.add(trip(4))


def test_cap_policy_oldest_reproduces_the_reference():
    b = TaskBuffer(D, cap=3, cap_policy="oldest")
    assert b.extend(trip(k) for k in range(5)) == [trip(0), trip(1), trip(2)]
    assert b.tasks == (trip(0), trip(1), trip(2)) and b.stats["refused_full"] == 2


def test_sampling_is_uniform_without_replacement_and_reproducible():
    b = TaskBuffer(D)
    b.extend(trip(k) for k in range(20))
    s1, s2 = b.sample(6, rng(7)), b.sample(6, rng(7))
    assert s1 == s2 and len(set(s1)) == 6
    assert b.sample(6, rng(8)) != s1
    assert sorted(b.sample(50, rng(1)), key=lambda t: t.input) == sorted(b.tasks, key=lambda t: t.input)
    g = rng(5)
    counts = Counter(t.input for _ in range(2000) for t in b.sample(6, g))
    # every task drawn with probability 6/20: 600 expected per task out of 2000 draws
    assert all(450 < c < 750 for c in counts.values()) and len(counts) == 20


def test_serialisation_round_trip():
    bufs = TaskBuffers.initial(AZRConfig(buffer_cap=4, seed_size=4))
    bufs[D].extend(trip(k) for k in range(6))
    bufs[I].add(InductionTask("def f(a):\n    return a", tuple("0123456789"), tuple("0123456789"), "m\n'\"é"))
    data = json.loads(json.dumps(bufs.to_dict()))
    back = TaskBuffers.from_dict(data)
    assert back.to_dict() == bufs.to_dict()
    for t in TaskType:
        assert back[t].tasks == bufs[t].tasks and back[t].stats == bufs[t].stats
    # the restored buffer behaves the same: same dedup, same cap eviction, same sampling
    assert not back[D].add(trip(5)) and back[D].add(trip(9)) and bufs[D].add(trip(9))
    assert back[D].tasks == bufs[D].tasks
    assert back[D].sample(3, rng(3)) == bufs[D].sample(3, rng(3))


def test_from_dict_rejects_bad_data():
    b = TaskBuffer(D)
    b.extend([trip(1), trip(2)])
    data = b.to_dict()
    dup = dict(data, tasks=data["tasks"] + data["tasks"][:1])
    with pytest.raises(ValueError, match="duplicate"):
        TaskBuffer.from_dict(dup)
    with pytest.raises(ValueError, match="version"):
        TaskBuffer.from_dict(dict(data, version=99))
    with pytest.raises(ValueError, match="cap"):
        TaskBuffer.from_dict(dict(data, cap=1))


def test_solver_batch_new_tasks_first():
    b = TaskBuffer(D)
    b.extend(trip(k) for k in range(100))
    new = [trip(k) for k in range(100, 110)]
    b.extend(new)
    batch = b.solver_batch(new, 32, rng(0))
    assert len(batch) == 32 and set(new) <= set(batch) and len(set(batch)) == 32
    assert batch == b.solver_batch(new, 32, rng(0))  # reproducible
    many_new = [trip(k) for k in range(200, 260)]
    b.extend(many_new)
    batch = b.solver_batch(many_new, 32, rng(1))
    assert len(set(batch)) == 32 and set(batch) <= set(many_new)


def test_solver_batch_with_fewer_tasks_than_the_batch():
    b = TaskBuffer(D)
    b.extend(trip(k) for k in range(5))
    new = [trip(5)]
    b.add(trip(5))
    batch = b.solver_batch(new, 16, rng(0))  # policy "replace": always the full batch
    assert len(batch) == 16 and set(batch) == {trip(k) for k in range(6)}
    assert trip(5) in batch
    fewer = TaskBuffer(D, short_batch_policy="fewer")
    fewer.extend(trip(k) for k in range(5))
    assert sorted(t.input for t in fewer.solver_batch([], 16, rng(0))) == [str(k) for k in range(5)]
    assert TaskBuffer(D).solver_batch([], 16, rng(0)) == []  # nothing to sample: an empty batch
    assert b.solver_batch(new, 0, rng(0)) == []
    with pytest.raises(ValueError):
        b.solver_batch(new, -1, rng(0))
