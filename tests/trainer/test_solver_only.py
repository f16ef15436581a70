"""The solver-only control: buffers seeded from the program generator, no proposer rollouts, solver updates."""

from azr_jax.azr.tasks import TaskType
from azr_jax.data.tasks import training_tasks
from azr_jax.trainer import Trainer
from tests_trainer_helpers import small_config


def test_solver_only_trains_the_solver_on_generated_tasks(tmp_path):
    config = small_config(tmp_path, **{"azr.propose": "false", "seed_buffers_from": "generator",
                                       "azr.seed_size": "6", "steps": "1"})
    with Trainer(config) as trainer:
        trainer.restore_or_seed()
        for task_type in TaskType:
            # After the identity seed triplet (deduction, abduction) that every run starts from.
            assert list(trainer.selfplay.buffers[task_type].tasks)[-6:] == training_tasks(task_type, 6, config.seed)
        result = trainer.selfplay.step(trainer.params, 0, config.seed)
        assert {r.role for r in result.rollouts} == {"solve"}
        assert len(result.rollouts) == len(TaskType) * config.azr.batch_size
        assert all(not tasks for tasks in result.new_tasks.values())  # nothing is proposed, nothing added
        before = [len(trainer.selfplay.buffers[t]) for t in TaskType]
        scalars = trainer.learn(result, 0.0)
        assert scalars["pg/optimizer_steps"] == 1.0
        assert [len(trainer.selfplay.buffers[t]) for t in TaskType] == before
