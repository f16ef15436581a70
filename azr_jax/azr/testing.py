"""A scripted policy for tests and benchmarks: fixed completions that exercise the executor.

It writes valid, unique proposals and solves right on even samples and wrong on odd ones, so reward
arithmetic can be checked by hand and the executor gets real work. It never stands in for the model
where the model is what is tested.
"""

import ast

from azr_jax.azr.parsing import fenced_blocks

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
        # Only two programs ever appear (TRIPLE and the identity seed): compute, never execute prompt text.
        value = ast.literal_eval(blocks["input"].strip())
        answer = repr(value * 3 if "* 3" in blocks["python"] else value) if right else "'wrong'"
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
