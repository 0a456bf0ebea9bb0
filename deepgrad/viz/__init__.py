"""Seeing inside networks: recurrent cell activations, gradient flow, and (with matplotlib) plots."""
from .cells import cell_states, feature_correlations, render_cells_html  # noqa: F401
from .gradflow import gradient_flow, plot_gradient_flow  # noqa: F401
from .attention import plot_attention, plot_attention_rows  # noqa: F401
from .monitor import (  # noqa: F401
    LayerStatsRecorder, diagnose, plot_confusion, plot_filters, plot_history, plot_lr_find)
from .boundary import plot_decision_boundary  # noqa: F401
