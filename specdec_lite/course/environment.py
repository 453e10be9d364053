"""Set-up for a lesson: seeds, quiet warnings, the device, and the versions that matter when asking for help.
"""

from __future__ import annotations

import logging
import platform
import random
import warnings

import numpy as np
import torch

__all__ = ["setup", "versions"]


def setup(seed: int = 0) -> str:
    """Seed Python, NumPy and torch, silence the warnings the lessons expect, and return the device to use.

    The device is ``"cuda"`` when a GPU is present, else ``"cpu"``. Only known, harmless noise is
    silenced (transformers' info/warning logs, deprecation notices from libraries), so that a notebook's
    cells write nothing to stderr; real errors still show.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("auto_gptq").setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", message=".*generation flags are not valid.*")
    return "cuda" if torch.cuda.is_available() else "cpu"


def versions() -> dict[str, str]:
    """The versions that matter when asking for help: Python, torch, transformers, specdec_lite, and the device."""
    import transformers

    from .. import __version__

    if torch.cuda.is_available():
        device = f"GPU: {torch.cuda.get_device_name(0)}"
    else:
        device = f"CPU only ({torch.get_num_threads()} thread(s))"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "specdec_lite": __version__,
        "device": device,
    }
