"""The course's two trained pairs as shipped, read by :func:`specdec_lite.load_pair` (data only, no code).

* ``tiny/`` - ``tokenizer/``, ``target/`` and ``draft/`` (Hugging Face format, float16 safetensors loaded as
  float32), ``training_log.json``, ``loss_curves.png``, ``eval.json`` and ``MODEL_CARD.md``;
* ``smol/`` - the SmolLM2 draft in ``draft/`` (with its ``training_log.json``), ``eval.json``,
  ``shortlist_vs_full.json`` and ``MODEL_CARD.md``; the target is SmolLM2-135M-Instruct (:mod:`specdec_lite.smol`).

They were made by the course repository's ``training/`` folder (``python -m training.train_tiny``,
``training.train_smol``, ``training.evaluate_tiny``, ``training.evaluate_smol``), which is not installed.
"""
