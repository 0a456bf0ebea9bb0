"""nn.utils: gradient clipping, the max-norm constraint, weight penalties and parameter vectors."""
from .clip_grad import *  # noqa: F401,F403
from .clip_grad import __all__ as _clip_all
from .convert_parameters import *  # noqa: F401,F403
from .convert_parameters import __all__ as _convert_all
from .regularization import *  # noqa: F401,F403
from .regularization import __all__ as _regularization_all

__all__ = _clip_all + _convert_all + _regularization_all
