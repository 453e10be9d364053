"""specdec_lite: a small, readable library for speculative decoding with Hugging Face causal LMs.

Notation, fixed for the whole package: **p** is the target model's next-token distribution and **q**
the draft model's, each taken after temperature, i.e. exactly the distribution a token is sampled
from. (Chen et al. 2023 swap the two letters; Leviathan et al. 2023 use these.)

A drafted token x ~ q is accepted with probability min(1, p(x)/q(x)); after a rejection the
replacement comes from norm(max(0, p - q)). The output then has exactly the target's distribution.

Decoders (batch size 1, on whatever device the models are on):

* :func:`autoregressive_generate` - the baseline, one target call per token;
* :func:`speculative_generate` - chain drafting, one target call per ``gamma`` drafted tokens;
* :func:`tree_speculative_generate` - a token tree drafted level by level and verified in one
  target pass under a tree attention mask.

All three return a :class:`GenerationResult` with the new tokens and per-step and per-node records.
The two speculative decoders take a draft model or any :class:`Drafter` (trees: :class:`TreeDrafter`),
such as the model-free :class:`~specdec_lite.lookup.PromptLookup`.
"""

from .autoregressive import autoregressive_generate
from .drafters import Drafter, TreeDrafter
from .pairs import Pair, load_pair
from .prompts import Prompt, load_prompts
from .results import GenerationResult, NodeRecord, StepRecord
from .speculative import speculative_generate
from .theory import alpha_from_nodes, best_gamma, expected_speedup, expected_tokens_per_call
from .tree import TokenTree, plot_tree, static_tree, tree_text
from .tree_speculative import tree_speculative_generate

__all__ = [
    "autoregressive_generate",
    "load_pair",
    "Pair",
    "load_prompts",
    "Prompt",
    "speculative_generate",
    "tree_speculative_generate",
    "Drafter",
    "TreeDrafter",
    "TokenTree",
    "static_tree",
    "tree_text",
    "plot_tree",
    "expected_tokens_per_call",
    "expected_speedup",
    "best_gamma",
    "alpha_from_nodes",
    "GenerationResult",
    "NodeRecord",
    "StepRecord",
]
__version__ = "0.1.0"
