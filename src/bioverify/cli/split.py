"""``bioverify split``: an identity-disjoint train/val/test split of one or more datasets.

Needs no torch. Files with byte-identical content under different identities are found by
sha256 and kept in one split, and the written split is checked for shared content.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from bioverify.cli import options
from bioverify.datasets.inventory import Inventory, scan_datasets
from bioverify.datasets.splits import (
    SPLIT_NAMES,
    Split,
    check_content_disjoint,
    check_split_params,
    hash_files,
    make_split,
    read_fixed_split,
    save_split,
    shared_content,
)


@click.command("split")
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=options.FILE, help="Split JSON.")
@click.option("--val-fraction", default=0.1, show_default=True, help="Of eligible identities.")
@click.option("--test-fraction", default=0.1, show_default=True, help="Of eligible identities.")
@options.count(
    "--min-samples",
    minimum=1,
    default=2,
    help="Identities with fewer samples go to train only.",
)
@options.seed()
@click.option(
    "--modality",
    type=click.Choice(["face", "voice"]),
    default=None,
    help="Default: inferred from file extensions.",
)
@click.option(
    "--fixed-split",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of {train,val,test}_speakers.txt, or a JSON with train/val/test lists.",
)
@click.option(
    "--prefix-identities",
    is_flag=True,
    help="Name identities <dataset>/<identity> (when datasets reuse names).",
)
@click.option("--check-readable", is_flag=True, help="Decode every file; skip unreadable ones.")
@click.option("--no-content-check", is_flag=True, help="Skip hashing files for identical content.")
def split(
    data: tuple[Path, ...],
    out: Path,
    val_fraction: float,
    test_fraction: float,
    min_samples: int,
    seed: int,
    modality: str | None,
    fixed_split: Path | None,
    prefix_identities: bool,
    check_readable: bool,
    no_content_check: bool,
) -> None:
    """Split DATA (identity folders or CSV manifests) into train/val/test by identity."""
    check_split_params(val_fraction, test_fraction, min_samples, seed)
    fixed = read_fixed_split(fixed_split) if fixed_split is not None else None
    progress = True  # a bar on a terminal, a plain line every 30 s elsewhere
    inventory = scan_datasets(data, modality, check_readable, prefix_identities, progress)
    _echo_inventory(inventory)
    together: list[set[str]] = []
    digests = None
    if not no_content_check:
        digests = hash_files((sample.path for sample in inventory.samples), progress)
        shared = shared_content(inventory, digests)
        together = [{sample.identity for sample in group} for group in shared]
        linked: set[str] = set().union(*together)
        click.echo(
            f"identical content: {len(shared)} groups of byte-identical files span "
            f"{len(linked)} identities" + (", each group kept in one split" if shared else "")
        )
    result = make_split(
        inventory,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        min_samples=min_samples,
        seed=seed,
        fixed=fixed,
        together=together,
    )
    if digests is not None:
        check_content_disjoint(result, inventory, digests, progress)
    _echo_split(result, fixed is not None)
    click.echo(
        "content check: "
        + ("skipped" if digests is None else "passed, no file content is in two splits")
    )
    save_split(result, out)
    click.echo(f"wrote {out}")


def _echo_inventory(inventory: Inventory) -> None:
    names = ", ".join(inventory.sources())
    click.echo(
        f"data: {names}: {len(inventory.samples):,} {inventory.modality} files, "
        f"{len(inventory.identities()):,} identities"
    )
    if inventory.skipped:
        reasons = Counter(reason.split(" (")[0].split(":")[0] for _, reason in inventory.skipped)
        summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        click.echo(f"skipped {len(inventory.skipped)} files ({summary}), e.g.:")
        for path, reason in inventory.skipped[:5]:
            click.echo(f"  {path}: {reason}")


def _echo_split(result: Split, fixed: bool) -> None:
    counts = result.counts
    for name in SPLIT_NAMES:
        entry = counts[name]
        click.echo(f"{name:>5}: {entry['identities']:,} identities, {entry['samples']:,} samples")
    by_source = counts["by_source"]
    if len(by_source) > 1:
        for source, per_split in by_source.items():
            parts = [
                f"{name} {per_split.get(name, {}).get('identities', 0)}" for name in SPLIT_NAMES
            ]
            click.echo(f"  {source}: identities {', '.join(parts)}")
    click.echo(
        f"train only (fewer than {result.params['min_samples']} samples): "
        f"{counts['train_only_small']:,} identities"
    )
    if fixed:
        click.echo(f"fixed by --fixed-split: {result.params['fixed_identities']} identities")
