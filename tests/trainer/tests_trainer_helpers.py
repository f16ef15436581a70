"""Shared by the trainer tests: a small tiny-config run, a scripted policy for reward arithmetic, and
reading TensorBoard events back."""

import os
import tempfile

import numpy as np

from azr_jax.azr.parsing import fenced_blocks
from azr_jax.run_config import load_run_config
from azr_jax.sampling.results import GenerateStats, SampleOutput, SampleRow


def small_config(workdir, **overrides):
    values = {"workdir": str(workdir), "azr.batch_size": "2", "azr.learnability_rollouts": "2",
              "generation.max_response_tokens": "24", "seed_max_rounds": "1", "azr.seed_size": "2",
              "executor_pool_size": "2"}
    values.update({k: str(v) for k, v in overrides.items()})
    return load_run_config("tiny", values)


def read_scalars(workdir: str) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from the run's TensorBoard event files (copied locally from gs:// first)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = workdir.rstrip("/") + "/tensorboard"
    if "://" in logdir:
        import fsspec

        local = tempfile.mkdtemp()
        fs, root = fsspec.core.url_to_fs(logdir)
        for path in fs.ls(root):
            fs.get_file(path, os.path.join(local, os.path.basename(path)))
        logdir = local
    out: dict[str, dict[int, float]] = {}
    for name in sorted(os.listdir(logdir)):
        acc = EventAccumulator(os.path.join(logdir, name), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for event in acc.Scalars(tag):
                out.setdefault(tag, {})[event.step] = event.value
    return out


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


def scripted_generate(tokenizer, counter):
    """A stand-in for SelfPlay._generate that answers every prompt with scripted_completion."""

    def generate(params, prompts, n, seed, on_finished=None):
        rows = []
        for p, prompt_ids in enumerate(prompts):
            for k in range(n):
                tokens = tokenizer.encode(scripted_completion(tokenizer.decode(prompt_ids), k, counter))
                rows.append(SampleRow(p, k, tokens, np.full(len(tokens), -1.0, np.float32), "stop"))
                if on_finished is not None:  # as the sampler streams finished rows
                    on_finished(rows[-1])
        return SampleOutput(rows=rows, n=n, stats=GenerateStats(0.0, 0.0, 0, len(rows)))

    return generate
