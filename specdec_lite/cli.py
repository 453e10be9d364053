"""The ``specdec-lite`` command line (also ``python -m specdec_lite``).

Subcommands::

    specdec-lite generate --prompt TEXT [--decoder chain|tree|target] [--gamma G] [--temperature 0]
    specdec-lite bench    [--domain D ...] [--prompts 2] [--gamma 4] [--depth 3] [--branching 2]
    specdec-lite study    [--mode tree|chain] [--domain D ...] [--prompts N] [--depth 3] [--branching 2]
    specdec-lite study    --tables DIR [--tables DIR ...] [--out DIR]   (re-analyse or merge saved studies)
    specdec-lite memory   [--prompt TEXT] [--gamma 4] [--gptq PATH]

Models, all through :func:`specdec_lite.pairs.load_pair`: ``--pair smol`` (the default: SmolLM2-135M-Instruct
and the course's draft), ``--pair tiny`` (the toy pair) or ``--pair paper``; two local checkpoints with ``--draft PATH --target PATH`` (the tokenizer is read from the
target's folder); or ``--pair NAME`` with one of ``--draft``/``--target`` replacing that member.

``--json`` prints one JSON object on stdout instead of text; ``--out DIR`` also writes the results into
DIR (``--plots`` adds figures); ``--quick`` shrinks every run to a smoke test. Progress bars go to
stderr. Options and ``--out`` are checked before anything runs, so a bad value or a folder that cannot
be written costs nothing; a study replaces ``--out`` whole (written into a folder beside it, then
renamed), so an interrupted study leaves the old one as it was.

Exit codes: 0 success; 2 bad usage (the message says which option is wrong); 1 a failure at run time,
reported in one line without a traceback.

The JSON objects of ``bench`` and ``study`` are documented, key by key, in ``docs/json_schema.md``.
Every JSON object carries ``"schema_version"`` and ``"kind"``; the version changes only when a key is
removed or changes meaning. Each kind's version is one constant: ``bench.SCHEMA_VERSION``,
``study.SCHEMA_VERSION``, and ``SCHEMA_VERSION`` here for ``generate`` and ``memory``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path


__all__ = ["main", "build_parser"]

SCHEMA_VERSION = 1  # of the generate and memory objects (bench and study keep their own)


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _temperature(text: str) -> float:
    from .checks import check_temperature

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    try:
        return check_temperature(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seed(text: str) -> int:
    from .checks import check_seed

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    try:
        return check_seed(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(part) for part in text.split(","))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its four subcommands."""
    from .pairs import PAIRS
    from .prompts import DOMAINS

    common = argparse.ArgumentParser(add_help=False)
    models = common.add_argument_group("models")
    models.add_argument("--pair", choices=PAIRS, help="a named draft/target pair (default: smol)")
    models.add_argument("--draft", metavar="PATH", help="draft checkpoint folder")
    models.add_argument("--target", metavar="PATH", help="target checkpoint folder (holds the tokenizer)")
    models.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    output.add_argument("--out", metavar="DIR", type=Path, help="also write the results into DIR")
    output.add_argument("--quick", action="store_true", help="a few prompts and tokens: a smoke test")
    output.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    output.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")

    fixed = argparse.ArgumentParser(add_help=False)
    fixed.add_argument("--gamma", type=_positive_int, default=4, help="chain: tokens drafted per step (default 4)")
    shape = argparse.ArgumentParser(add_help=False)
    shape.add_argument("--depth", type=_positive_int, default=3, help="tree: depth (default 3)")
    shape.add_argument("--branching", type=_positive_int, default=2, help="tree: children per node (default 2)")

    domains = argparse.ArgumentParser(add_help=False)
    domains.add_argument("--domain", action="append", choices=DOMAINS,
                         help="a prompt domain; repeat for several (default: all four)")
    domains.add_argument("--prompts", type=_positive_int, dest="per_domain", metavar="N",
                         help="prompts per domain")
    domains.add_argument("--prompts-file", type=Path, metavar="PATH",
                         help="a prompts JSONL file instead of the bundled one")

    parser = argparse.ArgumentParser(prog="specdec-lite",
                                     description="Speculative decoding: generate, benchmark, study, memory.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{generate,bench,study,memory}")

    gen = sub.add_parser("generate", parents=[common, shape], help="decode one prompt")
    gen.add_argument("--prompt", required=True, help="the prompt text")
    gen.add_argument("--decoder", choices=["chain", "tree", "target"], default="chain")
    gen.add_argument("--drafter", choices=["draft", "auto"], default="draft",
                     help="chain: the pair's draft at --gamma, or auto: the committed per-domain policy with "
                          "--prompt-domain, else lookup-or-draft with the fitted stop rule (smol pair)")
    gen.add_argument("--prompt-domain", choices=DOMAINS, help="with --drafter auto: the prompt's domain, if known")
    gen.add_argument("--temperature", type=_temperature, default=0.0)
    gen.add_argument("--max-new-tokens", type=_positive_int, default=64)
    gen.add_argument("--gamma", type=_positive_int,
                     help="chain: a fixed number of tokens drafted per step (default: for the course's pair, its "
                          "draft's fitted stop rule, results/dynamic/<pair>.json; else 4)")
    gen.set_defaults(handler=_generate)

    bench = sub.add_parser("bench", parents=[common, fixed, shape, domains], help="time the decoders (greedy)")
    bench.add_argument("--max-new-tokens", type=_positive_int, default=32)
    bench.add_argument("--repeats", type=_positive_int, default=3, help="timed rounds (default 3)")
    bench.add_argument("--gammas", type=_int_list, default=(1, 2, 3, 4, 6, 8), metavar="G1,G2,...",
                       help="gamma sweep (default 1,2,3,4,6,8)")
    bench.add_argument("--no-sweep", action="store_true", help="skip the gamma sweep")
    bench.add_argument("--plots", action="store_true", help="with --out: also save the speed-up figure")
    bench.set_defaults(handler=_bench)

    study = sub.add_parser("study", parents=[common, fixed, shape, domains], help="the four-domain acceptance study")
    study.add_argument("--mode", choices=["tree", "chain"], default="tree")
    study.add_argument("--budget", type=_positive_int, help="tree: most nodes per step")
    study.add_argument("--temperature", type=_temperature, default=0.0)
    study.add_argument("--max-new-tokens", type=_positive_int, default=64)
    study.add_argument("--entropy", choices=["q_entropy", "p_entropy"], default="q_entropy",
                       help="whose entropy to correlate with acceptance (default: the draft's)")
    study.add_argument("--format", choices=["csv", "csv.gz", "parquet"], default="csv",
                       help="node and step file format with --out (csv.gz: gzip-compressed CSV)")
    study.add_argument("--plots", action="store_true", help="with --out: also save figures")
    study.add_argument("--tables", type=Path, action="append", metavar="DIR",
                       help="analyse a study saved with --out DIR instead of running one; repeat to merge runs of one "
                            "configuration on disjoint prompts")
    study.set_defaults(handler=_study)

    memory = sub.add_parser("memory", parents=[common, fixed, shape], help="weights, KV caches and peak memory")
    memory.add_argument("--prompt", default="Explain in one paragraph why the sky is blue.")
    memory.add_argument("--max-new-tokens", type=_positive_int, default=64)
    memory.add_argument("--gptq", metavar="PATH", help="an auto-gptq checkpoint of the target, to measure")
    memory.set_defaults(handler=_memory)
    return parser


def _load(args):
    """The :class:`~specdec_lite.pairs.Pair` named by the options, through :func:`specdec_lite.pairs.load_pair`.

    ``--draft``/``--target`` alone name both members; with ``--pair`` one of them replaces that member.
    """
    if args.pair is None and (args.draft is None) != (args.target is None):
        raise UsageError("--draft and --target go together, unless --pair names the pair whose member they replace.")
    if args.pair is not None and args.draft is not None and args.target is not None:
        raise UsageError("--draft and --target together replace the whole pair: drop --pair.")
    for path in (args.draft, args.target):
        if path is not None and not Path(path).is_dir():
            raise UsageError(f"no checkpoint folder at {path}.")
    from .pairs import load_pair

    named = args.pair or ("smol" if args.draft is None else None)
    return load_pair(named, draft=args.draft, target=args.target, device=args.device)


def _prompts(args, pair, per_domain: int | None):
    from .prompts import DOMAINS, load_prompts

    chosen = []
    for domain in args.domain or DOMAINS:
        found = load_prompts(domain=domain, path=args.prompts_file, prompt_set=pair.prompt_set)
        chosen += found[:per_domain] if per_domain else found
    if not chosen:
        raise UsageError(f"no prompts for the domain(s) {args.domain or list(DOMAINS)}.")
    return chosen


def _emit(args, report: dict, text: str, filename: str | None) -> None:
    """Print the report (JSON or text), then write it into ``--out`` as ``filename`` (a study writes its own)."""
    print(json.dumps(report, indent=2) if args.json else text)
    if args.out is not None and filename is not None:
        (args.out / filename).write_text(json.dumps(report, indent=2) + "\n")


def _check_prompts_file(args) -> None:
    """Refuse a ``--prompts-file`` that does not exist, before anything runs."""
    if args.prompts_file is not None and not args.prompts_file.is_file():
        raise UsageError(f"--prompts-file {args.prompts_file} is not a file: name a JSONL file of prompts "
                         "(see specdec_lite/data/prompts.jsonl for the format).")


def _check_out(args) -> None:
    """Refuse an ``--out`` folder that cannot take the results, before anything runs."""
    if args.out is not None:
        from .outputs import OutputFolderError, check_out_folder

        try:
            check_out_folder(args.out)
        except OutputFolderError as error:
            raise UsageError(str(error)) from error


def _checked(make):
    """``make()``, with a ValueError from checking its settings turned into a usage error (exit code 2)."""
    try:
        return make()
    except ValueError as error:
        raise UsageError(str(error)) from error


def _generate(args) -> int:
    from .autoregressive import autoregressive_generate
    from .reports import jsonable
    from .dynamic import default_chain
    from .speculative import speculative_generate
    from .tree_speculative import check_tree_args, tree_speculative_generate

    if args.decoder == "tree":
        _checked(lambda: check_tree_args(args.depth, args.branching, None, "topk"))
    if (args.drafter == "auto" or args.prompt_domain) and args.decoder != "chain":
        raise UsageError("--drafter auto and --prompt-domain choose a chain drafter: use them with --decoder chain.")
    if args.prompt_domain and args.drafter != "auto":
        raise UsageError("--prompt-domain picks the committed policy's drafter: add --drafter auto.")
    _check_out(args)
    pair = _load(args)
    draft, target, name = pair.draft, pair.target, pair.name
    ids = pair.encode(args.prompt)
    drafter = "draft" if args.decoder != "target" else None
    n, common = args.max_new_tokens, dict(temperature=args.temperature, seed=args.seed, eos_token_id=pair.eos_token_id)
    if args.decoder == "target":
        result = autoregressive_generate(target, ids, n, **common)
    elif args.decoder == "chain" and args.drafter == "auto":
        from .policy import auto_choice

        choice = auto_choice(pair, args.prompt_domain)
        result = choice.generate(pair, ids, n, temperature=args.temperature, seed=args.seed)
        drafter = f"{choice.name} (gamma {choice.gamma}, {'stop rule' if choice.stop else 'fixed'}; {choice.source})"
    elif args.decoder == "chain":
        gamma, stop = (args.gamma, None) if args.gamma else default_chain(draft, target)
        result = speculative_generate(draft, target, ids, n, gamma=gamma, stop=stop, **common)
        drafter = f"draft (gamma {gamma}, " + ("fixed)" if stop is None else f"{stop}; results/dynamic/{name}.json)")
    else:
        result = tree_speculative_generate(draft, target, ids, n, depth=args.depth, branching=args.branching, **common)
    text = pair.decode(result.tokens)
    report = jsonable({
        "schema_version": SCHEMA_VERSION, "kind": "generate", "pair": name, "decoder": args.decoder, "drafter": drafter,
        "text": text, "tokens": result.tokens.tolist(), "steps": len(result.steps),
        "target_calls": result.target_calls, "draft_calls": result.draft_calls,
        "acceptance_rate": result.acceptance_rate, "tokens_per_target_call": result.tokens_per_target_call,
        "seconds": result.wall_time,
    })
    summary = (f"{len(result.tokens)} tokens in {result.wall_time:.2f} s, {result.target_calls} target calls, "
               f"acceptance {result.acceptance_rate:.3f}")
    _emit(args, report, f"{text}\n\n[{args.decoder}{f', {drafter}' if drafter else ''}] {summary}", "generate.json")
    return 0


def _bench(args) -> int:
    from .bench import BenchConfig, run_bench

    if args.plots and args.out is None:
        raise UsageError("--plots needs --out DIR to write the figures into.")
    per_domain = args.per_domain or (1 if args.quick else 2)
    config = _checked(lambda: BenchConfig(
        max_new_tokens=16 if args.quick else args.max_new_tokens, gamma=args.gamma, depth=args.depth,
        branching=args.branching, repeats=1 if args.quick else args.repeats,
        gammas=(1, 2, 4) if args.quick else args.gammas, sweep_repeats=1 if args.quick else 2,
        c_repeats=10 if args.quick else 30))
    _check_prompts_file(args)
    _check_out(args)
    pair = _load(args)
    name = pair.name
    ids = [pair.encode(p.prompt) for p in _prompts(args, pair, per_domain)]
    result = run_bench(pair.draft, pair.target, ids, config, sweep=not args.no_sweep, progress=not args.no_progress)
    report = result.to_dict() | {"pair": name}
    text = "\n".join([
        f"Benchmark of {name} on {len(ids)} prompts, {config.max_new_tokens} new tokens, greedy, {result.device}",
        result.summary.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"),
        f"outputs equal to the target's: {result.outputs_match}",
        f"c = {result.cost['c']:.3f} (draft step {1e3 * result.cost['draft_step_s']:.2f} ms, "
        f"target step {1e3 * result.cost['target_step_s']:.2f} ms); alpha = {result.alpha:.3f}",
        "" if result.sweep.empty else "Gamma sweep, measured vs predicted:\n"
        + result.sweep.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
    ])
    _emit(args, report, text, "bench.json")
    if args.out is not None:
        result.runs.to_csv(args.out / "bench_runs.csv", index=False)
        if args.plots and not result.sweep.empty:
            _save_figures({"speedup.png": lambda plots: plots.speedup_plot(result.sweep)}, args.out)
    return 0


def _study(args) -> int:
    from .outputs import OutputFolderError, replaced_folder
    from .study import StudyConfig, load_study, run_study

    if args.plots and args.out is None:
        raise UsageError("--plots needs --out DIR to write the figures into.")
    if args.tables and args.out is not None and any(args.out.resolve() == t.resolve() for t in args.tables):
        raise UsageError(f"--out {args.out} is also a --tables folder: write the merged study to a new folder.")
    config = None
    if not args.tables:
        config = _checked(lambda: StudyConfig(
            mode=args.mode, gamma=args.gamma, depth=args.depth, branching=args.branching, budget=args.budget,
            temperature=args.temperature, domains=tuple(args.domain) if args.domain else StudyConfig.domains,
            max_new_tokens=args.max_new_tokens, prompts_per_domain=args.per_domain, seed=args.seed,
            entropy=args.entropy))
        if args.quick:
            config = replace(config.quick(), prompts_per_domain=args.per_domain or 2)
        _check_prompts_file(args)
    with contextlib.ExitStack() as stack:
        folder = None
        if args.out is not None:  # the study replaces --out whole, from a staging folder made now, before the run
            try:
                folder = stack.enter_context(replaced_folder(args.out, _study_files()))
            except OutputFolderError as error:
                raise UsageError(str(error)) from error
        if args.tables:
            try:
                result = load_study(*args.tables)
            except (FileNotFoundError, ValueError) as error:
                raise UsageError(str(error)) from error
            return _study_output(args, result, None, folder)
        pair = _load(args)
        result = run_study(pair.draft, pair.target, _prompts(args, pair, config.prompts_per_domain), config,
                           encode=pair.encode, progress=not args.no_progress)
        return _study_output(args, result, pair.name, folder)


def _study_files() -> set[str]:
    """The files a study writes into ``--out``, which a new study may replace."""
    from .study import TABLE_FORMATS, TABLES

    tables = {f"{name}.{suffix}" for name in TABLES for suffix in TABLE_FORMATS}
    return {"study.json"} | tables | set(_study_figures(None, None))  # the figures' names (nothing is drawn)


def _study_output(args, result, pair_name: str | None, folder: Path | None) -> int:
    """Print the study's report, and with ``--out`` save it, its tables and with ``--plots`` its figures in ``folder``."""
    from .study import analyse_study, format_report, save_study, study_report

    if pair_name is None:  # re-analysed tables: the pair is the one their first report names
        pair_name = json.loads((args.tables[0] / "study.json").read_text()).get("pair")
    analysis = analyse_study(result)
    report = study_report(result, analysis) | {"pair": pair_name}
    text = format_report(result, analysis)
    if folder is None:
        _emit(args, report | {"tables": None}, text, None)
        return 0
    report = save_study(result, report, folder, args.format)
    if args.plots:
        _save_figures(_study_figures(result, analysis), folder)
    _emit(args, report, text, None)
    return 0


def _study_figures(result, analysis) -> dict:
    """The study's figures by file name (``result`` and ``analysis`` are read only when one is drawn)."""
    return {
        "depth_profile.png": lambda plots: plots.depth_profile_plot(analysis.profile),
        "entropy_acceptance.png": lambda plots: plots.entropy_acceptance_plot(result.nodes, result.config.entropy),
        "accepted_length.png": lambda plots: plots.accepted_length_plot(analysis.summary),
    }


def _save_figures(figures: dict, out: Path) -> None:
    """Draw each ``filename -> (plots module -> Figure)`` without a display and save it as a PNG in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plots

    for filename, draw in figures.items():
        figure = draw(plots)
        figure.savefig(out / filename, dpi=120, bbox_inches="tight")
        plt.close(figure)


def _memory(args) -> int:
    from .memory import memory_report, rows_to_dicts

    _check_out(args)
    pair = _load(args)
    draft, target, name = pair.draft, pair.target, pair.name
    gptq = None
    if args.gptq:
        import torch

        from .pairs import load_gptq

        # float16, auto-gptq's own dtype, which gptq_weight_bytes assumes for the layers left unquantized
        gptq = load_gptq(Path(args.gptq), pair.device, torch.float16)
    n = 16 if args.quick else args.max_new_tokens
    rows = memory_report(draft, target, pair.encode(args.prompt), n, gamma=args.gamma, gptq_model=gptq)
    report = {"schema_version": SCHEMA_VERSION, "kind": "memory", "pair": name, "max_new_tokens": n,
              "rows": rows_to_dicts(rows)}
    width, how = max(len(r.item) for r in rows), max(len(r.how) for r in rows)
    text = "\n".join(f"{r.item:<{width}}  {r.how:<{how}}  {r.mib:10.3f} MiB" for r in rows)
    _emit(args, report, text, "memory.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 runtime failure, 2 bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    start = time.perf_counter()
    try:
        code = args.handler(args)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"specdec-lite {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("specdec-lite: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, no traceback: the message is for the user
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"specdec-lite {args.command}: error: {message}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"[{time.perf_counter() - start:.1f} s]", file=sys.stderr)
    return code
