"""Generation: jitted prefill + donated decode loop, sampling, log-probs, stops, streamed rows.

    sampler = Sampler(config, graphdef, mesh=None, prompt_buckets=(64, 128, ...), batch_buckets=None)
    out = sampler.generate(params, prompts, SamplingParams(temperature=1.0, top_p=1.0, top_k=0,
                           max_new_tokens=256, n=1, stop_sequences=((tok, ...), ...), eos_ids=None),
                           seed=0, on_finished=None, process_local=False, max_rows_per_call=0)
    out.rows: list[SampleRow(prompt_index, sample_index, tokens, logprobs, finish_reason)]
    out.stats: GenerateStats(prefill_seconds, decode_seconds, decode_steps, rows, calls)

Rows are prompt-major (the n samples of prompt 0, then of prompt 1 ...). `tokens` include the EOS or
stop tokens; `logprobs[i]` is log_softmax(logits / temperature) at token i, before top-k / top-p: the
log-probability under the distribution that drew it (the PPO behaviour policy), which the trainer
recomputes at the same temperature (`logprob_temperature`; greedy rows get temperature-1 log-probs).
`finish_reason` is "eos", "stop" or "length".

Prompts are left-padded into length buckets and the number of prompts into batch buckets, so a new
batch does not recompile unless it needs a bigger bucket; each prompt is prefilled once and its cache
shared by its n rows. With `on_finished`, each row is handed to the host through `io_callback` as
soon as it finishes while the loop keeps decoding the others (calls come from one worker thread;
the device only waits for the copy into a queue). On several processes every process passes the same
global prompt list, puts only its own rows on its devices, and receives through `on_finished` and in
`out.rows` only the rows of its own devices: the callback runs under `shard_map`, per device.
Without `on_finished` no callback is compiled into the loop. With `max_rows_per_call` the prompts go
through several device calls of at most that many rows each, which bounds the KV cache in HBM.
"""

from azr_jax.sampling.params import SamplingParams, logprob_temperature
from azr_jax.sampling.processing import candidates, choose_tokens
from azr_jax.sampling.results import GenerateStats, SampleOutput, SampleRow
from azr_jax.sampling.sampler import DEFAULT_PROMPT_BUCKETS, Sampler

__all__ = ["Sampler", "SamplingParams", "SampleOutput", "SampleRow", "GenerateStats", "candidates", "choose_tokens",
           "logprob_temperature", "DEFAULT_PROMPT_BUCKETS"]
