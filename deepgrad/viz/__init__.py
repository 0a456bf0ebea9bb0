"""Seeing inside networks: recurrent cell activations, gradient flow, and (with matplotlib) plots."""
from .cells import cell_states, feature_correlations, render_cells_html  # noqa: F401
from .gradflow import gradient_flow, plot_gradient_flow  # noqa: F401
