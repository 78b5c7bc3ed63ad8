"""apprentice: multi-step LLM reasoning over tools and memory that teaches itself."""

import logging
import warnings

__version__ = "0.1.0"

# peft and trl read the attribute transformers 5 renamed, on every adapter load: nothing a user can act on
_LIBRARY_NOISE = "`is_gradient_checkpointing` is deprecated"
warnings.filterwarnings("ignore", message=_LIBRARY_NOISE, category=FutureWarning)

# bitsandbytes' CPU backend tries to fetch a faster 4-bit kernel from the Hugging Face hub on import and warns when
# it cannot (always, offline); its own fallback kernel is the one every measurement here used
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
