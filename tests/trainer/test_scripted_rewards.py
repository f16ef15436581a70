"""Reward arithmetic end to end with a scripted policy: fixed completions instead of sampling, the real
prompts, parser, sandboxed executor, buffers and rewards. (The real-model step is test_selfplay_step.)"""

import itertools

import numpy as np
import pytest

from azr_jax.azr.parsing import fenced_blocks
from azr_jax.azr.tasks import TaskType
from azr_jax.sampling.results import GenerateStats, SampleOutput, SampleRow
from azr_jax.trainer import Trainer
from tests_trainer_helpers import small_config

TRIPLE = "def f(x):\n    return x * 3"


def scripted_completion(prompt: str, sample_index: int, counter) -> str:
    """Proposes unique valid tasks; solves correctly on even samples and wrongly on odd ones."""
    user = prompt[prompt.index("User: "):]
    title = user.splitlines()[0]
    # Blocks of the task itself (the instructions above mention fences inline, which would pair up).
    task_part = user[user.find("### "):]
    blocks = {lang: body for lang, body in fenced_blocks(task_part)}
    right = sample_index % 2 == 0
    if "write a new Python program" in title:
        return f"plan</think><answer>```python\n{TRIPLE}\n```\n```input\n{next(counter)}\n```</answer>"
    if "choose 10 inputs" in title:
        base = 100 * next(counter)
        inputs = "".join(f"```input\n{base + k}\n```\n" for k in range(10))
        return f"plan</think><answer>{inputs}```message\ntransform the number\n```</answer>"
    if "predict the output" in title:
        scope = {}
        exec(blocks["python"], scope)  # test-authored programs only (TRIPLE or the identity seed)
        answer = repr(eval(f"f({blocks['input']})", scope)) if right else "'wrong'"
        return f"plan</think><answer>```output\n{answer}\n```</answer>"
    if "find an input" in title:
        output = blocks["output"].strip()
        answer = (str(int(output) // 3) if "* 3" in blocks["python"] else output) if right else "'nope'"
        return f"plan</think><answer>```input\n{answer}\n```</answer>"
    assert "write the Python function" in title, title
    pairs = [b for lang, b in fenced_blocks(task_part) if lang in ("input", "output")]
    identity = all(pairs[i].strip() == pairs[i + 1].strip() for i in range(0, len(pairs), 2))
    program = ("def f(a):\n    return a" if identity else TRIPLE) if right else "def f(x):\n    return None"
    return f"plan</think><answer>```python\n{program}\n```</answer>"


@pytest.fixture
def scripted_trainer(tmp_path):
    with Trainer(small_config(tmp_path)) as trainer:
        counter = itertools.count(1)
        tok = trainer.tokenizer

        def generate(params, prompts, n, seed):
            rows = []
            for p, prompt_ids in enumerate(prompts):
                for k in range(n):
                    tokens = tok.encode(scripted_completion(tok.decode(prompt_ids), k, counter))
                    rows.append(SampleRow(p, k, tokens, np.full(len(tokens), -1.0, np.float32), "stop"))
            return SampleOutput(rows=rows, n=n, stats=GenerateStats(0.0, 0.0, 0, len(rows)))

        trainer.selfplay._generate = generate
        yield trainer


def test_rewards_of_a_scripted_step(scripted_trainer):
    t = scripted_trainer
    b, n = t.config.azr.batch_size, t.config.azr.learnability_rollouts
    assert n == 2
    first = t.selfplay.step(t.params, 0, seed=0)
    # Every proposal is well formed and valid, and its n=2 rollouts solve it once: s = 1/2, r = 1 - s.
    proposer = [r for r in first.rollouts if r.role == "propose"]
    assert len(proposer) == 3 * b and all(r.reward == 0.5 for r in proposer)
    assert all(len(first.new_tasks[tt]) == b for tt in TaskType)
    # Step 0's solver batch comes from the seed buffers (identity triplets; no induction task yet).
    solver = [r for r in first.rollouts if r.role == "solve"]
    assert solver and all(r.reward == 1.0 for r in solver)
    assert {r.task_type for r in solver} == {TaskType.DEDUCTION, TaskType.ABDUCTION}
    assert first.scalars["propose/valid_rate"] == 1.0 and first.scalars["solve/accuracy"] == 1.0

    second = t.selfplay.step(t.params, 1, seed=0)
    solver = [r for r in second.rollouts if r.role == "solve"]
    assert {r.task_type for r in solver} == set(TaskType)  # induction tasks proposed at step 0 are solved now
    assert all(r.reward == 1.0 for r in solver)
    assert second.scalars["solve/induction/accuracy"] == 1.0
    for tt in TaskType:
        assert len(t.selfplay.buffers[tt]) == (0 if tt is TaskType.INDUCTION else 1) + 2 * b


def test_wrong_and_malformed_answers_are_penalised(scripted_trainer):
    t = scripted_trainer
    generate = t.selfplay._generate

    def wrong_solver(params, prompts, n, seed):
        out = generate(params, prompts, n, seed)
        # Odd sample indices answer wrongly; make every row of this call an odd sample's answer.
        tok = t.tokenizer
        rows = [SampleRow(r.prompt_index, r.sample_index, tok.encode(
            scripted_completion(tok.decode(prompts[r.prompt_index]), 1, itertools.count(1000 + i))),
            r.logprobs, r.finish_reason) for i, r in enumerate(out.rows)]
        rows[0] = SampleRow(0, 0, tok.encode("no tags at all"), rows[0].logprobs, "length")
        return SampleOutput(rows=rows, n=n, stats=out.stats)

    t.selfplay._generate = wrong_solver
    result = t.selfplay.step(t.params, 0, seed=0)
    proposer = [r for r in result.rollouts if r.role == "propose"]
    solver = [r for r in result.rollouts if r.role == "solve"]
    assert proposer[0].reward == -1.0  # malformed proposal
    # Valid proposals whose rollouts all fail (s = 0) get the edge reward (paper: 0).
    assert all(r.reward == 0.0 for r in proposer[1:])
    assert all(r.reward == -0.5 for r in solver)  # well formed, wrong
