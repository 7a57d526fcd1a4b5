"""The ``fakebench bench`` subcommands: run, report, gate, curve, throughput.

A folder given with ``--out`` (run, curve, throughput) must be new, empty or fakebench's own, and
one command at a time writes it (``outputs.output_folder``); a file given with ``--out`` (report,
gate) or ``--baseline`` with ``--write-baseline`` that exists is replaced only if fakebench wrote it
and nobody changed it since (``outputs.check_file``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from fakebench.cliargs import command_group, common_options, device_seed_options
from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")


def _seed_from_config(parser: argparse.ArgumentParser) -> None:
    """--device/--seed, where --seed overrides the config's seed only when given."""
    device_seed_options(parser)
    parser.set_defaults(seed=None)
    for action in parser._actions:
        if action.dest == "seed":
            action.help = "random seed (default: the config's `seed`, else 0)"


def register(commands: argparse._SubParsersAction) -> None:
    actions = command_group(
        commands, "bench", help="benchmark detectors: metrics with CIs, robustness, throughput, report, gate",
        description="Score detectors on data sets (and perturbed copies), with confidence intervals, "
                    "throughput, an HTML report and a regression gate.")

    run = actions.add_parser(
        "run", help="detectors x data sets x perturbations -> a run folder",
        description="Run the benchmark a YAML config describes (see fakebench/benchmarks/runner.py for the format) "
                    "into a run folder: config.yaml, env.json, videos.parquet, predictions.parquet, metrics.json, "
                    "metrics.csv. Every (detector, video, perturbation, level) is cached: an interrupted run resumes "
                    "when the same command is run again.")
    run.add_argument("--config", type=Path, required=True, help="benchmark config (YAML)")
    run.add_argument("--out", type=Path, required=True, help="run folder")
    run.add_argument("--fresh", action="store_true", help="score everything again instead of reading the cache")
    run.add_argument("--overwrite", action="store_true", help="replace a run of another config in --out")
    _seed_from_config(run)
    common_options(run)
    run.set_defaults(func=cmd_run)

    report = actions.add_parser(
        "report", help="an HTML (+ Markdown) report from run folders",
        description="Build one self-contained HTML page (images embedded) and a Markdown twin from the files of one "
                    "or more run folders: metrics with intervals, ROC curves, robustness curves, throughput, fakes "
                    "with their masks, the detectability curve. Nothing is scored again.")
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders")
    report.add_argument("--out", type=Path, required=True, help="the HTML file (report.md and report_files/ go beside it)")
    report.add_argument("--title", default="fakebench benchmark", help="page title")
    report.add_argument("--no-markdown", action="store_true", help="write the HTML only")
    device_seed_options(report)
    common_options(report)
    report.set_defaults(func=cmd_report)

    gate = actions.add_parser(
        "gate", help="fail when a detector's AUC dropped against a baseline",
        description="Compare a run's AUCs with a baseline on the videos both scored, paired (the same source groups "
                    "resampled for both). Exit 1 when a (detector, data set, perturbation, level) is missing, "
                    "undefined, or its AUC fell by more than --max-drop AND significantly (the one-sided 1 - --alpha "
                    "lower bound of the drop is above 0); each check is printed with why, and videos in only one of "
                    "the two are listed. --write-baseline writes the baseline (AUCs and every video's score) from "
                    "the run instead.")
    gate.add_argument("run", type=Path, metavar="RUN", help="run folder")
    gate.add_argument("--baseline", type=Path, required=True, help="baseline JSON")
    gate.add_argument("--max-drop", type=float, default=0.02, help="AUC margin (default 0.02)")
    gate.add_argument("--alpha", type=float, default=0.05,
                      help="one-sided significance of a drop (default 0.05: its 95%% lower bound must be above 0)")
    gate.add_argument("--bootstrap", type=int, default=2000, help="paired bootstrap replicates (default 2000)")
    gate.add_argument("--write-baseline", action="store_true", help="write --baseline from RUN and exit")
    gate.add_argument("--json", action="store_true", help="print the checks as JSON")
    gate.add_argument("--out", type=Path, help="also write the checks as JSON to this file")
    device_seed_options(gate)
    common_options(gate)
    gate.set_defaults(func=cmd_gate)

    curve = actions.add_parser(
        "curve", help="AUC against generator training step (detectability curve)",
        description="Score detectors on generated data sets (fakes of several generator checkpoints, read through "
                    "the generated layout: one folder per checkpoint, or one folder holding them all) and plot video "
                    "AUC against the checkpoint's training step. Writes a full run folder plus curve.json and curve.png.")
    curve.add_argument("--generated", nargs="+", type=Path, required=True, metavar="DIR",
                       help="folders of converted fakes with their manifests (generated layout)")
    _detector_options(curve)
    curve.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates per point (default 2000)")
    curve.add_argument("--out", type=Path, required=True, help="run folder")
    curve.add_argument("--overwrite", action="store_true", help="replace a run of another config in --out")
    _seed_from_config(curve)
    common_options(curve)
    curve.set_defaults(func=cmd_curve)

    throughput = actions.add_parser(
        "throughput", help="frames/s, latency, peak memory per detector, stage by stage",
        description="Time each detector's whole pipeline (decode / face detection / detector) on videos: frames/s, "
                    "videos/s, p50/p95 latency per video, peak RAM (and GPU memory on CUDA). Writes "
                    "OUT/throughput.json (merged with what is there: the report shows it beside the accuracy).")
    throughput.add_argument("videos", nargs="*", type=Path, metavar="VIDEO",
                            help="videos to time (default: the first --videos of the config's first data set)")
    _detector_options(throughput)
    throughput.add_argument("--videos", dest="n_videos", type=int, default=5, help="videos from the config (default 5)")
    throughput.add_argument("--max-frames", type=int, default=300,
                            help="frames per video at most (every-frame detectors; default 300)")
    throughput.add_argument("--out", type=Path, required=True, help="run folder to write throughput.json into")
    _seed_from_config(throughput)
    common_options(throughput)
    throughput.set_defaults(func=cmd_throughput)


def _detector_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", type=Path, help="a benchmark config: its detectors are used")
    group.add_argument("--detector", action="append", metavar="NAME", help="detector name (repeat for several)")
    parser.add_argument("--weights", type=Path, help="weights for a single --detector")


def _detector_specs(args: argparse.Namespace):
    from fakebench.benchmarks.runner import DetectorSpec, load_bench_config

    if args.config is not None:
        if args.weights is not None:
            raise FakebenchError("--weights goes with --detector; with --config put `weights:` in the config")
        config = load_bench_config(args.config)
        return config, config.detectors
    if args.weights is not None and len(args.detector) != 1:
        raise FakebenchError(f"--weights applies to one detector, got {len(args.detector)} --detector options; use a "
                             "config to give several detectors their weights")
    weights = str(args.weights.resolve()) if args.weights else None
    return None, tuple(DetectorSpec(name=n, weights=weights) for n in args.detector)


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from fakebench.benchmarks.runner import load_bench_config, run

    config = load_bench_config(args.config)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    result = run(config, args.out, device=args.device, progress=not args.quiet, fresh=args.fresh,
                 overwrite=args.overwrite)
    _print_summary(result["metrics"])
    log.info("run folder: %s (report: fakebench bench report %s --out report.html)", args.out, args.out)
    return 0


def _print_summary(rows: list[dict]) -> None:
    """The video-level rows: detector, data set, perturbation, AUC [CI], n."""
    for r in rows:
        if r["unit"] != "video":
            continue
        auc = r.get("auc")
        ci = ""
        if isinstance(r.get("auc_lo"), float) and math.isfinite(r["auc_lo"]):
            ci = f" [{r['auc_lo']:.3f}, {r['auc_hi']:.3f}]"
        pert = r["perturbation"] if r["perturbation"] == "none" else f"{r['perturbation']}:{r['level']}"
        value = f"{auc:.3f}" if isinstance(auc, float) and math.isfinite(auc) else "nan"
        print(f"{r['detector']}\t{r['dataset']}\t{pert}\tauc {value}{ci}\t{r['n_real']} real / {r['n_fake']} fake")


def cmd_report(args: argparse.Namespace) -> int:
    from fakebench.benchmarks.report import build

    written = build(args.runs, args.out, title=args.title, markdown=not args.no_markdown, check_existing=True)
    for kind, path in written.items():
        print(f"{kind}\t{path}")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.benchmarks import gate
    from fakebench.benchmarks.runner import read_run
    from fakebench.files import write_json

    read_run(args.run)  # a finished run, or one clear line
    if args.out is not None:
        outputs.check_file(args.out)  # before the bootstrap: someone else's file is refused at once
    if args.write_baseline:
        path = gate.write_baseline(args.run, args.baseline)
        print(f"baseline\t{path}\t{len(gate.read_baseline(path)['entries'])} entries")
        return 0
    result = gate.check(args.run, gate.read_baseline(args.baseline), max_drop=args.max_drop, alpha=args.alpha,
                        n_boot=args.bootstrap, seed=args.seed or 0)
    if args.json:
        print(json.dumps({"passed": result.passed, "checks": result.checks}, indent=2))
    else:
        for line in result.lines:
            print(line)
        print("gate: passed" if result.passed else "gate: FAILED")
    if args.out is not None:
        write_json(args.out, {"passed": result.passed, "checks": result.checks})
        outputs.record_file(args.out)
    return 0 if result.passed else 1


def cmd_curve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from fakebench.benchmarks.curve import run_curve
    from fakebench.benchmarks.runner import BenchConfig, DatasetSpec, MetricsConfig

    config, detectors = _detector_specs(args)
    datasets = tuple(DatasetSpec(name=folder.resolve().name, layout="generated", root=str(folder.resolve()), split="all")
                     for folder in args.generated)
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        datasets = tuple(replace(d, name=str(Path(d.root))) for d in datasets)
    base = config or BenchConfig(detectors=detectors, datasets=datasets)
    metrics = replace(base.metrics if config else MetricsConfig(), bootstrap=args.bootstrap)
    bench = replace(base, detectors=detectors, datasets=datasets, perturbations=(), metrics=metrics,
                    seed=args.seed if args.seed is not None else base.seed)
    result = run_curve(bench, args.out, device=args.device, progress=not args.quiet, overwrite=args.overwrite)
    for p in result["points"]:
        ci = f" [{p['auc_lo']:.3f}, {p['auc_hi']:.3f}]" if p.get("auc_lo") is not None else ""
        auc = f"{p['auc']:.3f}" if p.get("auc") is not None else "nan"
        print(f"{p['detector']}\t{p['dataset']}\tstep {p['step']}\tauc {auc}{ci}\t{p['n_real']} real / {p['n_fake']} fake")
    log.info("curve: %s", Path(args.out) / "curve.png")
    return 0


def cmd_throughput(args: argparse.Namespace) -> int:
    from fakebench import outputs
    from fakebench.benchmarks import throughput
    from fakebench.benchmarks.runner import build_detector, load_dataset
    from fakebench.runtime import resolve_device, seed_everything

    config, detectors = _detector_specs(args)
    seed = args.seed if args.seed is not None else (config.seed if config else 0)
    seed_everything(seed)
    if args.max_frames < 1 or args.n_videos < 1:
        raise FakebenchError(f"--max-frames {args.max_frames}, --videos {args.n_videos}: expected positive numbers")
    if args.videos:
        paths = [str(p) for p in args.videos]
    elif config is not None:
        paths = [str(p) for p in load_dataset(config.datasets[0], seed).videos["path"].head(args.n_videos)]
    else:
        raise FakebenchError("no videos to time: pass VIDEO files, or --config with a data set")
    device = resolve_device(args.device)
    with outputs.output_folder(args.out, "throughput figures"):  # before the timing: someone else's is refused
        results = []
        for spec in detectors:
            built = build_detector(spec, device=device, seed=seed)
            results.append(throughput.measure(built.label, built.detector, paths, device=device,
                                              max_frames=args.max_frames, progress=not args.quiet))
        path = throughput.write(results, args.out, device)
    for r in results:
        share = " / ".join(f"{s} {100 * (r['share'][s] or 0):.0f}%" for s in throughput.STAGES)
        print(f"{r['detector']}\t{r['device']}\t{r['frames_per_s']:.1f} frames/s\t{r['videos_per_s']:.3f} videos/s\t"
              f"p50 {r['latency_p50_s']:.2f} s\tp95 {r['latency_p95_s']:.2f} s\t{share}\tpeak RAM {r['peak_rss_mb']:.0f} MiB")
    log.info("wrote %s", path)
    return 0
