"""What a person watching a run sees: TensorBoard events, a console line per step, flagged samples."""

from azr_jax.monitoring.console import format_progress
from azr_jax.monitoring.metrics_writer import MetricsWriter
from azr_jax.monitoring.safety import SafetyMonitor

__all__ = ["MetricsWriter", "SafetyMonitor", "format_progress"]
