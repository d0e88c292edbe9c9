"""daekit: denoising autoencoders in PyTorch (corruption models, autoencoder family, training, CLI)."""
__version__ = "0.1.0"

from .api import Denoiser, evaluate_on, load, train  # noqa: E402
from .config import Config, resolve_config  # noqa: E402
from .errors import DaekitError  # noqa: E402
from .models import create_model, list_models  # noqa: E402
from .noise import parse_noise  # noqa: E402

__all__ = ["Config", "DaekitError", "Denoiser", "create_model", "evaluate_on", "list_models", "load", "parse_noise", "resolve_config", "train"]
