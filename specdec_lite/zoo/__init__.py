"""The course's own draft/target pair, trained offline on a 2-core CPU.

* :mod:`specdec_lite.zoo.corpus` - the seeded four-domain training corpus (code, math, logic, chat);
* :mod:`specdec_lite.zoo.make_prompts` - writes the study's prompt sets, ``specdec_lite/data/prompts.jsonl``;
* :mod:`specdec_lite.zoo.train` - ``python -m specdec_lite.zoo.train``: corpus -> byte-level BPE
  tokenizer -> target -> draft (distilled from the target), saved under ``tiny/``;
* :mod:`specdec_lite.zoo.evaluate` - ``python -m specdec_lite.zoo.evaluate``: cost ratio, load time,
  size, held-out perplexity, acceptance per domain and speed-up, written to ``tiny/eval.json``.

``tiny/`` holds ``tokenizer/``, ``target/`` and ``draft/`` in Hugging Face format (float16
safetensors; load with ``torch_dtype=torch.float32``), ``training_log.json``, ``eval.json`` and
``MODEL_CARD.md``.
"""
