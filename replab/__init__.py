"""replab: learn representations, probe their health, keep them plastic, use them for perception and control."""

__version__ = "0.1.0"
