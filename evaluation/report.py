"""Print evaluation results as tables and keep them as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))


def print_pairs(result: dict[str, Any]) -> None:
    accuracy = result["accuracy"]
    print(f"LFW pairs: {result['pairs']} pairs in {result['folds']} folds, {result['images']} images")
    print(
        f"  accuracy {accuracy['mean']:.2%} ± {accuracy['std']:.2%}  (threshold learned on the other folds:"
        f" {min(accuracy['thresholds']):.3f}–{max(accuracy['thresholds']):.3f})"
    )
    unusable = result["unusable"]
    print(
        f"  photos without a usable face: {result['images_without_face']} (none found: {unusable['no_face']},"
        f" failed the quality gate: {unusable['quality_gate']}); pairs touched: {result['pairs_touching_no_face']}"
    )
    print(f"  {result['no_face_handling']}")
    print("  ROC (threshold: true accept rate / false accept rate):")
    for point in result["roc"][::5]:
        print(f"    {point['threshold']:.3f}: {point['tar']:.4f} / {point['far']:.4f}")


def print_identify(result: dict[str, Any]) -> None:
    print(
        f"Open-set identification: {result['identities']} identities, {result['held_out_identities']} give"
        f" non-mated searches; candidates per search: top {result['top_k']}, ranked and thresholded by"
        f" {result.get('score', 'distance')} (thresholds t and the bands' are in that score)"
    )
    print_aliases(result)
    for label, gallery in result["galleries"].items():
        print(
            f"\n  Gallery of {label}"
            f" (enrolment photos without a usable face: {gallery['enrolment_photos_without_face']})"
        )
        header = f"    {'probes':<9} {'mated':>6} {'non-m.':>6} {'rank-1':>7} {'rank-5':>7}  {'no face/gated':>10}"
        for target in next(iter(gallery["variants"].values()))["fnir_at_fpir"]:
            header += f"  {'FNIR@' + target:>12} {'(t)':>6}"
        print(header)
        for variant, row in gallery["variants"].items():
            line = f"    {variant:<9} {row['mated_searches']:>6} {row['nonmated_searches']:>6}"
            line += f" {row['rank1']:>7.2%} {row['rank5']:>7.2%}"
            line += f"  {row['unusable']['no_face']:>5}/{row['unusable']['quality_gate']:<4}"
            for cell in row["fnir_at_fpir"].values():
                line += f"  {cell['fnir']:>12.2%} {cell['threshold']:>6.3f}"
            print(line)
        print(
            f"    {'band':<9} {'t':>6} {'FPIR':>7} {'FNIR':>7} {'precision':>10} {'recall':>7} {'F1':>6}"
            f" {'false cand./1000 searches':>26}"
        )
        for variant, row in gallery["variants"].items():
            for band, cell in row["bands"].items():
                print(
                    f"    {band + ' ' + variant[:4]:<9} {cell['threshold']:>6.3f}"
                    f" {cell['fpir']:>7.2%} {cell['fnir']:>7.2%}"
                    f" {cell['precision']:>10.2%} {cell['recall']:>7.2%} {cell['f1']:>6.3f}"
                    f" {cell['false_candidates_per_1000_searches']:>26.1f}"
                )


def print_references(result: dict[str, Any]) -> None:
    print(
        f"Reference photos per case: {result['identities']} identities with enough photos;"
        " the same searches for every count"
    )
    print_aliases(result)
    print(
        f"    {'photos':>6} {'rank-1':>7} {'rank-5':>7}  "
        + "  ".join(f"{'FNIR@' + t:>11}" for t in next(iter(result["counts"].values()))["fnir_at_fpir"])
    )
    for count, row in result["counts"].items():
        cells = "  ".join(f"{cell['fnir']:>11.2%}" for cell in row["fnir_at_fpir"].values())
        print(f"    {count:>6} {row['rank1']:>7.2%} {row['rank5']:>7.2%}  {cells}")


def print_aliases(result: dict[str, Any]) -> None:
    merged = result.get("aliases")
    if merged is None:
        print("  LFW's raw names: no aliases merged")
    else:
        print(
            f"  LFW aliases merged (evaluation/aliases.py): {merged['photos_moved']} photos moved,"
            f" {merged['identities_merged']} identities merged into others (--lfw-names: raw labels)"
        )


def print_review_load(result: dict[str, Any]) -> None:
    from evaluation.review_load import review_minutes  # noqa: PLC0415 - keeps report's imports light

    print(
        f"Review load ({result['engine']}): {result['mated_probes']} mated and {result['nonmated_probes']}"
        f" non-mated sightings; top {result['top_k']} per sighting; {result['real_cases']} real cases, synthetic"
        f" past that. Bands set at {result['reference_size']} cases to today's FNIR; review minutes a day for"
        f" {result['sightings_per_day']} sightings at {result['seconds_per_candidate']:.0f} s a candidate"
    )
    print(
        f"  {'cases':>7} {'policy':<15} {'band':<7} {'t':>7} {'cand./s':>8} {'false/s':>8} {'prec.':>7}"
        f" {'FNIR':>7} {'min/day':>8}"
    )
    for size, row in result["sizes"].items():
        for policy, bands in row.items():
            if not isinstance(bands, dict):
                continue
            for band, cell in bands.items():
                minutes = review_minutes(
                    cell["false_per_probe"], result["sightings_per_day"], result["seconds_per_candidate"]
                )
                print(
                    f"  {size:>7} {policy:<15} {band:<7} {cell['threshold']:>7.3f}"
                    f" {cell['candidates_per_probe']:>8.3f} {cell['false_per_probe']:>8.3f}"
                    f" {cell['precision']:>7.1%} {cell['fnir']:>7.2%} {minutes:>8.0f}"
                )
    print(f"  How sure, at {result['reference_size']} cases (distance up to: share that were the person, n):")
    _print_how_sure(result["how_sure"])
    for policy, rows in result.get("how_sure_margin", {}).items():
        print(f"  How sure, candidates shown by {policy} (raw distance up to: share that were the person, n):")
        _print_how_sure(rows)


def _print_how_sure(rows: list[tuple[float, float, int]]) -> None:
    print("    " + ", ".join(f"{d:.3f}: {share:.1%} ({n})" for d, share, n in rows))


def print_case_photos(result: dict[str, Any]) -> None:
    print(
        f"Case photos ({result['engine']}): {result['cases']} cases, {result['mated_probes']} mated and"
        f" {result['nonmated_probes']} non-mated sightings, top {result['top_k']}; each k's thresholds at the FNIR"
        " today's bands give with `min` at that k"
    )
    print(f"  {'k':>2} {'policy':<26} {'band':<10} {'t':>7} {'cand./s':>8} {'false/s':>8} {'prec.':>7} {'FNIR':>7}")
    for k, row in result["counts"].items():
        print(f"  k={k}: {row['cases_with_k_photos']} cases with {k} photos")
        for policy, bands in row.items():
            if not isinstance(bands, dict) or policy == "served":
                continue
            for band, cell in bands.items():
                print(
                    f"  {k:>2} {policy:<26} {band:<10} {cell['threshold']:>7.3f} {cell['candidates_per_probe']:>8.3f}"
                    f" {cell['false_per_probe']:>8.3f} {cell['precision']:>7.1%} {cell['fnir']:>7.2%}"
                )
        _print_served(k, row["served"])
    if result.get("how_sure_template"):
        print(
            "  How sure, cases of 2 and 3 photos scored by their template, pooled (template distance up to:"
            " share that were the person, n):"
        )
        _print_how_sure(result["how_sure_template"])
    if result.get("how_sure_template_margin"):
        print("  The same, the template rule with the margin:")
        _print_how_sure(result["how_sure_template_margin"])


def _print_served(k: str, served: dict[str, Any]) -> None:
    for rule, cell in served.items():
        print(
            f"  {k:>2} served, {rule}: review band FNIR {cell['fnir']:.2%},"
            f" false / sighting {cell['false_per_probe']:.3f}"
            f" ({cell['false_per_probe_from_several_photos']:.3f} from cases of several photos)"
            + (
                f"; thresholds {cell['one_photo_threshold']:.3f} (one photo), {cell['several_threshold']:.3f}"
                f" (several); farthest closest photo {cell['farthest_closest_photo']:.3f}"
                if "several_threshold" in cell
                else ""
            )
            + (f"; missed {cell['missed']}" if "missed" in cell else "")
        )


def print_face_size(result: dict[str, Any]) -> None:
    print(
        f"Face size ({result['engine']}): {result['probes']} probes against {result['cases']} cases,"
        f" review band {result['review']}; FNIR counts a probe without a searched face as a miss"
    )
    print(f"  {'variant':<9} {'face px':>7} {'found':>7} {'gate ok':>8} {'FNIR today':>11} {'FNIR ungated':>13}")
    for variant, row in result["sizes"].items():
        print(
            f"  {variant:<9} {row['median_face_px']:>7.0f} {row['found']:>7.1%} {row['passed_gate']:>8.1%}"
            f" {row['fnir_gated']:>11.2%} {row['fnir_ungated']:>13.2%}"
        )
