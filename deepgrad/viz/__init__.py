"""Seeing inside networks: recurrent cell activations, gradient flow, and (with matplotlib) plots."""
from .cells import cell_states, feature_correlations, render_cells_html  # noqa: F401
from .gradflow import gradient_flow, plot_gradient_flow  # noqa: F401
from .attention import plot_attention, plot_attention_rows  # noqa: F401
from .monitor import (  # noqa: F401
    LayerStatsRecorder, diagnose, plot_confusion, plot_filters, plot_history, plot_lr_find)
from .boundary import plot_decision_boundary  # noqa: F401
from .saliency import (  # noqa: F401
    class_model, input_gradient, plot_class_models, plot_saliency, saliency_map)
from .style import (  # noqa: F401
    FeatureExtractor, content_loss, gram_matrix, style_loss, style_transfer, total_variation)
