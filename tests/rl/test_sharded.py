"""The update step on a (data, fsdp, tensor) = (2, 2, 2) mesh of 8 CPU devices equals the unsharded one."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from azr_jax.model.functional import create_model
from azr_jax.parallel import MeshConfig, make_mesh, param_shardings
from azr_jax.rl import batch_shardings, init_opt_state, jit_update_step, opt_state_shardings

from rl_testing import OFFSETS, assert_same_step, fresh, make_batch

pytestmark = pytest.mark.skipif(jax.device_count() < 8, reason="needs 8 devices: tests/rl/conftest.py sets "
                                "XLA_FLAGS before jax is imported, unless another conftest imported jax first")


@pytest.mark.slow
def test_sharded_update_equals_unsharded(tiny_model, full_batch_step):
    model_config, graphdef, params = tiny_model
    config, optimizer, unsharded_step = full_batch_step
    batch = make_batch(graphdef, params, log_ratio_offsets=OFFSETS)
    want = unsharded_step(fresh(params), init_opt_state(optimizer, params), batch)

    mesh = make_mesh(MeshConfig(data=2, fsdp=2, tensor=2))
    _, sharded_params = create_model(model_config, seed=0, mesh=mesh)
    params_sh = param_shardings(sharded_params, mesh)
    opt_sh = opt_state_shardings(optimizer, sharded_params, params_sh, mesh)
    opt_state = init_opt_state(optimizer, sharded_params, opt_sh)
    sharded_batch = jax.device_put(batch, batch_shardings(mesh))
    # Micro-batches of 4 rows: one row per (data, fsdp) shard in each, accumulated by the scan.
    step = jit_update_step(graphdef, optimizer, config.replace(micro_batch_size=4), sharded_params, temperature=1.0,
                           mesh=mesh)
    new_params, new_opt, metrics = step(sharded_params, opt_state, sharded_batch)

    assert bool(metrics["update_applied"]) and bool(want[2]["update_applied"])
    np.testing.assert_allclose(float(metrics["loss"].mean()), float(want[2]["loss"].mean()), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(float(metrics["grad_norm"]), float(want[2]["grad_norm"]), rtol=1e-5)
    assert_same_step(params, (new_params, new_opt), want[:2])

    # Outputs stay in the parameters' shardings (really split: the embedding is [vocab/tensor, embed/fsdp]).
    for out, sharding in zip(jax.tree.leaves(new_params), jax.tree.leaves(params_sh)):
        assert out.sharding.is_equivalent_to(sharding, out.ndim)
    assert new_params["embedding"][...].sharding.spec == P("tensor", "fsdp")
    for out, sharding in zip(jax.tree.leaves(new_opt), jax.tree.leaves(opt_sh)):
        assert out.sharding.is_equivalent_to(sharding, out.ndim)
