"""TPU readiness on a CPU host: slice names, AOT compiles for TPU topologies, the fit verdict, the planner.

Compiling needs libtpu (the [tpu] extra); without it those tests skip with that reason. Slow tests
(-m slow) compile the 3B / 7B / 14B run configs for their slices and check the figures in WORKSPACE.md.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azr_jax.tpu.roofline import matmul_params, update_model_flops
from azr_jax.tpu.specs import resolve_compile_spec, sampling_shapes
from azr_jax.tpu.topologies import GiB, libtpu_available, parse_slice

HAVE_LIBTPU, NO_LIBTPU_REASON = libtpu_available()
needs_libtpu = pytest.mark.skipif(not HAVE_LIBTPU, reason=f"TPU AOT compile checks skipped: {NO_LIBTPU_REASON}")
REPO = Path(__file__).resolve().parents[2]

# The tiny run config with short sequences: the same programs, compiled in seconds.
SMALL_TINY = {"generation.max_prompt_tokens": "64", "generation.max_response_tokens": "64"}


@pytest.fixture(autouse=True, scope="module")
def no_persistent_compilation_cache():
    """Compile-only TPU executables cannot be read back from the suite's persistent cache (a warning per
    program) and would only fill it; this module compiles without it."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    # JAX decides once per process whether the cache is used; reset_cache makes it look at the flag again.
    enabled = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    yield
    jax.config.update("jax_enable_compilation_cache", enabled)
    compilation_cache.reset_cache()


@pytest.mark.parametrize("name, chip, devices, shape", [
    ("v5p-8", "v5p", 4, (2, 2, 1)), ("v5p-64", "v5p", 32, (2, 4, 4)), ("v5p-128", "v5p", 64, (4, 4, 4)),
    ("v4-32", "v4", 16, (2, 2, 4)), ("v5litepod-16", "v5e", 16, (4, 4)), ("v5e-64", "v5e", 64, (8, 8)),
])
def test_slice_names_count_cores_or_chips(name, chip, devices, shape):
    s = parse_slice(name)
    assert (s.chip.name, s.num_devices, s.shape) == (chip, devices, shape)


def test_chip_figures_are_the_published_ones():
    assert parse_slice("v5p-8").chip.hbm_bytes == 95 * GiB and parse_slice("v5p-8").chip.peak_flops == 459e12
    assert parse_slice("v4-8").chip.hbm_bytes == 32 * GiB and parse_slice("v4-8").chip.hbm_bandwidth == 1200e9
    v5e = parse_slice("v5litepod-4").chip
    assert v5e.hbm_bytes == 16 * GiB and v5e.peak_flops == 197e12 and v5e.hbm_bandwidth == 819e9


@pytest.mark.parametrize("name", ["v5p-63", "v5p-6", "v6e-8", "v5litepod-3", "tpu"])
def test_unknown_slices_fail_with_the_naming_rule(name):
    with pytest.raises(ValueError, match="count TensorCores"):
        parse_slice(name)


def test_run_configs_resolve_to_the_reference_shapes():
    spec = resolve_compile_spec("azr_7b", {"generation.max_rows_per_call": "0"})
    assert (spec.update_rows, spec.update_length) == (384, 6144 + 8096)
    # A step's generate calls: 6 x 64 prompts x 1 sample, then up to 3 x 64 new tasks x 8 learnability rollouts,
    # padded to the Sampler's batch buckets on v5p-64's 32-way FSDP mesh (powers of two from 32).
    assert spec.step_calls == ((384, 1), (192, 8))
    assert spec.prefill_call == (512, 1)
    assert (spec.sample_prompts, spec.samples_per_prompt, spec.cache_length) == (256, 8, 6144 + 8096)
    assert spec.default_slice == "v5p-64"
    # The reference's 3 AdamW steps of 128 sequences a step, each accumulated in micro-batches of 32 rows.
    assert (spec.num_optimizer_steps, spec.mini_batch_rows, spec.micro_batch_rows) == (3, 128, 32)
    assert spec.num_micro_batches == 12 and "3 optimizer step(s) of 128 rows" in spec.summary()
    configured = resolve_compile_spec("azr_7b")  # at most 1024 rows per call: 128 learnability prompts x 8
    assert configured.prefill_call == (512, 1) and configured.sample_rows == 1024
    assert (configured.sample_prompts, configured.samples_per_prompt) == (128, 8)
    capped = resolve_compile_spec("azr_7b", {"generation.max_rows_per_call": "256"})
    assert capped.prefill_call == (256, 1) and (capped.sample_prompts, capped.samples_per_prompt) == (256, 1)
    on_v5p_8 = resolve_compile_spec("azr_7b", {"generation.max_rows_per_call": "256"}, "v5p-8")
    assert on_v5p_8.default_slice == "v5p-8" and on_v5p_8.sample_rows == 256
    # 6 N T per token plus causal attention: the model FLOPs of one update step.
    c = spec.model
    expected = 3 * 384 * (2 * matmul_params(c) * 14240 + 2 * c.num_layers * c.num_heads * c.head_dim * 14240 ** 2)
    assert update_model_flops(spec) == pytest.approx(expected)
    with pytest.raises(ValueError, match="azr_7b"):
        resolve_compile_spec("azr_7")


def test_sampling_shapes_split_and_pad_as_the_sampler_does():
    # Buckets 1, 2, 4, 8, ... (no mesh): 6 prompts x 1 pad to 8 (the prefill); 3 prompts x 4 to 4 x 4 rows.
    assert sampling_shapes(((6, 1), (3, 4)), 0, 1) == ((8, 1), (4, 4))
    # At most 5 rows per call: 4 prompts x 1, and 1 prompt x 4; equal rows, the decode keeps more prompts.
    assert sampling_shapes(((6, 1), (3, 4)), 5, 1) == ((4, 1), (4, 1))
    # On 4 batch shards the buckets are 4, 8, ...: 3 prompts are padded to 4, so 16 rows, and a call of at
    # most 8 rows cannot hold even one bucket of 4 prompts x 4.
    assert sampling_shapes(((6, 1), (3, 4)), 16, 4) == ((8, 1), (4, 4))
    with pytest.raises(ValueError, match="max_rows_per_call 8 is too small"):
        sampling_shapes(((6, 1), (3, 4)), 8, 4)


@needs_libtpu
def test_topology_devices_match_the_slice():
    from azr_jax.tpu.topologies import topology_devices

    devices = topology_devices("v5p-8")
    assert len(devices) == 4 and all(d.platform == "tpu" for d in devices)
    assert "v5" in devices[0].device_kind.lower()


@pytest.fixture(scope="module")
def tiny_report():
    from azr_jax.tpu import check

    return check(resolve_compile_spec("tiny", SMALL_TINY), "v5p-8", costs=False)


@needs_libtpu
def test_tiny_config_compiles_and_fits_a_small_v5p(tiny_report):
    assert set(tiny_report.programs) == {"prefill", "decode", "update"}
    assert tiny_report.fits and 0 < tiny_report.memory_fraction < 0.01
    for p in tiny_report.programs.values():
        assert p.memory.argument_bytes > 0 and p.memory.total_bytes >= p.memory.argument_bytes
    # The sampler holds the optimizer state resident: Adam moments of the (replicated-norm) params.
    assert tiny_report.programs["decode"].memory.resident_bytes > 0
    assert tiny_report.programs["update"].memory.alias_bytes > 0  # params and opt state are donated
    out = tiny_report.to_json()
    assert out["fits"] is True and out["mesh"] == {"data": 1, "fsdp": 4, "tensor": 1}
    assert "DOES NOT FIT" not in tiny_report.format()


@needs_libtpu
def test_update_compiles_with_its_mini_batch_loop():
    """rl.mini_batch_size puts the optimizer steps in a loop of the one update program (one while loop more
    than the single-step program: the micro-batch scan is inside it); it compiles and fits a small v5p."""
    from azr_jax.tpu.programs import compile_programs, lower_update, slice_mesh

    single = resolve_compile_spec("tiny", SMALL_TINY)
    mini = resolve_compile_spec("tiny", {**SMALL_TINY, "rl.mini_batch_size": "8"})
    assert (mini.num_optimizer_steps, mini.mini_batch_rows, mini.micro_batch_rows) == (3, 8, 8)
    mesh = slice_mesh(single, "v5p-8")
    loops = {name: lower_update(spec, mesh).as_text().count("stablehlo.while")
             for name, spec in (("single", single), ("mini", mini))}
    assert loops["mini"] == loops["single"] + 1, loops
    update = compile_programs(mini, mesh, ("update",))["update"]
    assert update.error is None and 0 < update.memory.total_bytes < 0.01 * parse_slice("v5p-8").chip.hbm_bytes


@needs_libtpu
def test_cost_probe_counts_every_layer_of_the_decode_step():
    from azr_jax.tpu.programs import probe_cost, slice_mesh
    from azr_jax.tpu.roofline import decode_step_model_flops

    spec = resolve_compile_spec("tiny", SMALL_TINY)
    cost = probe_cost("decode", spec, slice_mesh(spec, "v5p-8"), "v5p")
    per_device = decode_step_model_flops(spec) / 4
    # One decode step: compiled FLOPs agree with 2 * params * rows plus attention to within 2x (the
    # compiled step also samples and attends to every cache slot, the model count to the mean context).
    assert per_device / 2 < cost.flops < per_device * 2
    assert cost.bytes_accessed > 0


@needs_libtpu
def test_program_that_fits_without_a_cost_probe_that_fits():
    """32k-token prompts in 512-key blocks fit a v5e chip; the cost probe's 2 unrolled 16k-key blocks do
    not. The program is reported as fitting with no roofline, and the reason is printed."""
    from azr_jax.tpu import check

    spec = resolve_compile_spec("tiny", {"model.attention_impl": "blockwise", "generation.max_prompt_tokens": "32768",
                                         "azr.batch_size": "1"}, "v5litepod-4")
    report = check(spec, "v5litepod-4", programs=("prefill",))
    prefill = report.programs["prefill"]
    assert report.fits and prefill.error is None
    assert prefill.estimate is None and "cost probe" in prefill.no_estimate
    assert "prefill  no roofline: the cost probe" in report.format()
    assert report.to_json()["programs"]["prefill"]["no_estimate"] == prefill.no_estimate


@needs_libtpu
@pytest.mark.slow
def test_cost_probe_extrapolates_blockwise_key_blocks():
    """The probe compiles 1 and 2 key blocks and extrapolates; compare with every block unrolled."""
    from azr_jax.tpu import programs as progs

    overrides = {**SMALL_TINY, "model.attention_impl": "blockwise", "model.attention_block_size": "32"}
    spec = resolve_compile_spec("tiny", overrides)  # 128-token rows: 4 key blocks
    mesh = progs.slice_mesh(spec, "v5p-8")
    probe, probe_mesh = progs._probe_setup(spec, mesh, "v5p")
    unrolled = probe.replace(model=probe.model.replace(scan_layers=False, scan_attention_blocks=False))
    direct = progs._cost(progs.lower_update(unrolled, probe_mesh).compile())
    extrapolated = progs.probe_cost("update", spec, mesh, "v5p")
    assert extrapolated.flops == pytest.approx(direct.flops, rel=0.01)
    assert extrapolated.bytes_accessed == pytest.approx(direct.bytes_accessed, rel=0.05)


@needs_libtpu
def test_oversized_config_is_reported_as_not_fitting():
    from azr_jax.tpu import check

    report = check(resolve_compile_spec("tiny_oversized"), "v5litepod-4", programs=("update",), costs=False)
    assert not report.fits and report.memory_fraction > 1.0
    assert report.to_json()["fits"] is False
    assert "DOES NOT FIT" in report.format()


@needs_libtpu
@pytest.mark.slow  # 64 key blocks of a 32k-token row: a few minutes on 2 busy cores
def test_blockwise_attention_fits_where_dense_does_not():
    """tiny_oversized's dense [heads, T, T] scores need more than a v5e chip; key blocks of 512 do not."""
    from azr_jax.tpu import check

    spec = resolve_compile_spec("tiny_oversized")
    spec = spec.replace(model=spec.model.replace(attention_impl="blockwise", attention_block_size=512))
    report = check(spec, "v5litepod-4", programs=("update",), costs=False)
    assert report.fits and report.memory_fraction < 0.5, report.format()


@needs_libtpu
def test_tiny_config_compiles_for_v4_with_blockwise_attention():
    from azr_jax.tpu import check

    overrides = {**SMALL_TINY, "model.attention_impl": "blockwise", "model.attention_block_size": "48"}
    report = check(resolve_compile_spec("tiny", overrides), "v4-8", costs=False)
    assert report.tpu_slice.chip.name == "v4" and report.tpu_slice.num_devices == 4
    assert set(report.programs) == {"prefill", "decode", "update"}
    assert report.fits and 0 < report.memory_fraction < 0.01
    assert report.to_json()["attention"] == "blockwise"


@needs_libtpu
def test_cli_json_last_line():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    args = [sys.executable, str(REPO / "launch" / "compile_check.py"), "--config=tiny", "--topology=v5p-8", "--json",
            "--no_plan"] + [f"--set={k}={v}" for k, v in SMALL_TINY.items()]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["fits"] is True and 0 < result["memory_fraction"] < 0.01
    assert 0 < result["estimated_mfu"] < 1
    assert result["programs"]["decode"]["bound"] == "memory"


@needs_libtpu
@pytest.mark.slow
def test_planner_finds_a_micro_batch_that_fits():
    from azr_jax.tpu import plan

    found = plan(resolve_compile_spec("tiny_unplanned"), "v5litepod-4", costs=False)
    assert found.spec is not None and found.spec.micro_batch_rows < 64
    assert any(not t.fits for t in found.trials) and found.trials[-1].fits


@needs_libtpu
@pytest.mark.slow
def test_planner_splits_sampling_calls_that_do_not_fit():
    from azr_jax.tpu import plan

    spec = resolve_compile_spec("tiny_wide_sampling")
    assert spec.sample_rows == 4096 * 8 and spec.max_rows_per_call == 0
    found = plan(spec, "v5litepod-4", costs=False)
    sampling = [t for t in found.trials if t.program == "sampling"]
    assert not sampling[0].fits and sampling[-1].fits, found.format()
    # Measured: 32768 rows 164% of HBM, 16384 rows 92% (over the 90% limit), 8192 rows 46%.
    assert [t.fits for t in sampling] == [False, False, True], found.format()
    assert found.spec.max_rows_per_call == 8192 and found.spec.sample_rows == 8192
    assert "generation.max_rows_per_call=8192" in found.format()


# Figures of WORKSPACE.md: (config, slice) -> must fit within 90% of HBM; azr_7b also >= 40% update MFU.
@needs_libtpu
@pytest.mark.slow
@pytest.mark.parametrize("config, slice_name", [
    ("azr_3b", "v5litepod-16"), ("azr_7b", "v5p-64"), ("azr_14b", "v5p-128")])
def test_reference_configs_fit_their_slices(config, slice_name):
    from azr_jax.tpu import check

    report = check(resolve_compile_spec(config), slice_name)
    print(report.format())
    assert report.fits, report.format()
    if config == "azr_7b":
        assert report.estimated_mfu >= 0.40, report.format()
