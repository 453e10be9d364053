"""How the course's two shipped pairs were made: data, training, evaluation and model cards.

Run from the repository root as ``python -m training.<module>`` (``--help`` lists each one's settings); not
part of the installed library, which ships only the results, under ``specdec_lite/zoo/`` (weights,
tokenizer, training logs, ``eval.json``, ``MODEL_CARD.md``) and ``specdec_lite/data/`` (the study's prompts).

The tiny pair (``load_pair("tiny")``), trained from scratch:

* :mod:`training.corpus` - the seeded four-domain corpus (code, math, logic, chat);
* :mod:`training.prompts_tiny` - writes its study prompts, ``specdec_lite/data/prompts.jsonl``;
* :mod:`training.train_tiny` - corpus -> byte-level BPE tokenizer -> target -> draft distilled from it;
* :mod:`training.evaluate_tiny` - cost, perplexity, acceptance and speed-up -> ``eval.json``, and
  :mod:`training.card_tiny` renders the card and its loss curves.

The SmolLM2 pair (``load_pair("smol")``), a draft distilled from SmolLM2-135M-Instruct:

* :mod:`training.instructions` - the course-written training instructions;
* :mod:`training.prompts_chat` - writes the study's chat prompts, ``specdec_lite/data/prompts_chat.jsonl``,
  disjoint from those instructions;
* :mod:`training.distill_data` - the target's answers to them, ``training/data/distill_data.npz``
  (committed: the distillation data of this draft and of the course's later drafters);
* :mod:`training.train_smol` - the draft, full-vocabulary or shortlist;
* :mod:`training.evaluate_smol` - goals, acceptance, benchmark, generalisation -> ``eval.json``, and
  :mod:`training.card_smol` renders the card.

Shared by both: :mod:`training.trainer` (one AdamW loop, learning-rate schedule and forward-KL loss; the
pairs differ only in settings), :mod:`training.evaluation` (report header, load time, writing; c is
measured by :func:`specdec_lite.bench.cost_coefficient`) and :mod:`training.card` (tables).
"""
