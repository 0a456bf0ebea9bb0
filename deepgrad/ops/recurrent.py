"""(being written) recurrent primitives and their functional forms."""
from __future__ import annotations

__all__: list[str] = []
