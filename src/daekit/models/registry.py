"""The model registry (its own module so architectures can import it without cycles)."""
from ..registry import Registry

MODELS: Registry = Registry("model")
