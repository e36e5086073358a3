"""What the runtime commands print: one renderer per result type, wording chosen here and
not derived from field names (as black's ``Report``). ``--json`` prints the result's
``to_dict()`` instead, unchanged. The calibration commands' wording is in
:mod:`bioverify.cli.calibration_text`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import click

from bioverify.gallery import (
    DatasetEnrollReport,
    Decision,
    EnrollReport,
    Identification,
    IdentityDetails,
    IdentitySummary,
    ReembedReport,
    RemovalReport,
)
from bioverify.gallery.migrate import MigrationReport
from bioverify.verify.result import VerifyResult


def pct(rate: float) -> str:
    """A rate as a percentage with three significant digits."""
    return f"{100.0 * rate:.3g} %"


def _interval(interval: tuple[float, float] | list[float]) -> str:
    return f"[{pct(interval[0])}, {pct(interval[1])}]"


def echo_lines(lines: Iterable[str], err: bool = False) -> None:
    for line in lines:
        click.echo(line, err=err)


def echo_json(data: Any) -> None:
    """``--json``: strict JSON (no NaN or infinity), indented."""
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def quality_text(quality: Mapping[str, Any]) -> str:
    """A short description of an acquisition's quality facts."""
    if quality.get("face_size") is not None:
        return f"face {quality['face_size']} px"
    if quality.get("speech_seconds") is not None:
        return f"{float(quality['speech_seconds']):.1f} s of speech"
    return ""


# -- decisions ------------------------------------------------------------------------------


def verification_lines(result: Decision) -> list[str]:
    """``bioverify verify``: the decision, the threshold and what its rates mean. A
    decision of another :class:`~bioverify.gallery.GalleryVerifier` than a ``Verifier``
    (no ``VerifyResult``) gets its match and score only."""
    lines = [f"match        {'yes' if result.match else 'no'}", f"score        {result.score:.4f}"]
    if not isinstance(result, VerifyResult):
        return lines
    where = f" ({result.operating_point})" if result.operating_point else ""
    if result.quality_bin is not None:
        where = f" ({result.operating_point} for pairs whose worse sample has {result.quality_bin})"
    lines.append(f"threshold    {result.threshold:.4f}{where}")
    if (
        result.far is not None
        and result.far_ci is not None
        and result.frr is not None
        and result.frr_ci is not None
    ):
        lines += [
            f"expected     FAR {pct(result.far)} {_interval(result.far_ci)}, "
            f"FRR {pct(result.frr)} {_interval(result.frr_ci)}",
            f"measured on  {result.measured_on or 'the calibration trials'}",
        ]
        worst = result.worst_condition
        if worst is not None:
            lines.append(
                f"worst case   FAR {pct(worst['far'])} {_interval(worst['far_ci'])} in the "
                f"condition {worst['name']} ({worst['n_impostor']:,} impostor trials)"
            )
        lines.append(
            "your data    may differ (other people, cameras, microphones): measure it with "
            "bioverify calibrate --check --data DIR"
        )
    if result.probability is not None and result.llr is not None:
        lines.append(
            f"probability  {result.probability:.4f} same identity at prior "
            f"{result.prior:g} (LLR {result.llr:.3f})"
        )
    if result.threshold_llr is not None and result.threshold_prior is not None:
        lines.append(
            f"decision     match when LLR >= {result.threshold_llr:.3f}: the threshold is "
            f"the even-odds decision at prior {result.threshold_prior:.3g}, not "
            f"{result.prior:g}"
        )
    lines += [f"warning: {w}; the rates above may not hold" for w in result.quality_warnings]
    lines += [f"note: {note}" for note in result.notes]
    return lines


def identification_lines(result: Identification) -> list[str]:
    """``bioverify identify``: the candidates best first, or why it is nobody known."""
    lines = []
    if result.unknown:
        lines.append(
            f"unknown: none of {result.n_identities} identities scored at or above "
            f"the threshold {result.threshold:.4g}"
        )
    for rank, candidate in enumerate(result.candidates, start=1):
        decision = candidate.result
        where = (
            f" (FAR {pct(decision.far)} at {decision.operating_point})"
            if decision.far is not None
            else ""
        )
        lines.append(f"{rank}. {candidate.identity}  score {candidate.score:.4f}{where}")
    lines += [f"note: {note}" for note in result.notes]
    return lines


# -- enrollment and the gallery ------------------------------------------------------------


def skipped_lines(report: EnrollReport, duplicates: bool = True) -> list[str]:
    """The samples an enrollment skipped (without the duplicates when not ``duplicates``)."""
    return [
        f"skipped {skipped.source}: {skipped.message}"
        for skipped in report.skipped
        if duplicates or skipped.reason != "duplicate"
    ]


def enrollment_lines(report: EnrollReport) -> list[str]:
    """``bioverify enroll --id``: each sample stored or skipped, and the identity's count."""
    lines = []
    for sample in report.enrolled:
        facts = quality_text(sample.quality)
        lines.append(f"enrolled {sample.source}" + (f" ({facts})" if facts else ""))
    if report.already_enrolled:
        lines.append(
            f"{report.identity}: already enrolled ({len(report.skipped)} file(s) already "
            f"held; {report.n_templates} template(s) in the gallery)"
        )
        return lines
    lines += skipped_lines(report)
    lines.append(
        f"{report.identity}: {report.n_templates} template(s) in the gallery "
        f"({len(report.enrolled)} added, {len(report.skipped)} skipped)"
    )
    return lines


def dataset_enrollment_lines(report: DatasetEnrollReport) -> list[str]:
    """``bioverify enroll --from``: failures, files that are not samples, and the totals."""
    lines = [line for r in report.reports for line in skipped_lines(r, duplicates=False)]
    lines += [f"skipped {path}: {why}" for path, why in report.files_not_samples]
    lines.append(
        f"{report.identities_in_gallery} of {len(report.reports)} identities in the gallery: "
        f"{report.templates_added} template(s) added, {report.duplicates_skipped} already "
        f"enrolled, {report.samples_failed} sample(s) failed"
    )
    return lines


def identity_list_lines(meta: Mapping[str, str], summaries: list[IdentitySummary]) -> list[str]:
    """``bioverify gallery list``: the gallery's model, then one identity a line."""
    return [
        f"{len(summaries)} identities; {meta['modality']} model "
        f"{meta['model_sha256'][:12]}… ({meta['embedding_dim']}-d) from {meta.get('bundle_path')}",
        *(f"{s.id}\t{s.n_templates} template(s)\tsince {s.created}" for s in summaries),
    ]


def identity_details_lines(details: IdentityDetails) -> list[str]:
    """``bioverify gallery show``: an identity's templates, one a line."""
    lines = [f"{details.summary.id}: {details.summary.n_templates} template(s)"]
    for t in details.templates:
        facts = quality_text(t.quality)
        lines.append(
            f"  #{t.id} {t.source_name} sha256 {(t.source_sha256 or '-')[:12]} "
            f"enrolled {t.enrolled_at}" + (f" ({facts})" if facts else "")
        )
    return lines


def removal_lines(report: RemovalReport) -> list[str]:
    """``bioverify gallery remove``."""
    return [f"removed {report.identity} ({report.n_templates} template(s))"]


def removal_warning(report: RemovalReport, engine: str) -> str | None:
    """Where erased templates may still be, when the removal could not erase every copy."""
    if report.scrubbed:
        return None
    if engine == "sqlite":
        return (
            "warning: another process was reading the gallery, so old copies may stay in its "
            "-wal file until the next removal or re-embedding"
        )
    return (
        "note: PostgreSQL keeps deleted rows until (auto)vacuum reuses their space, and "
        "in its write-ahead log, replicas and backups until they expire (docs/privacy.md)"
    )


def reembed_lines(report: ReembedReport) -> list[str]:
    """``bioverify gallery reembed``: what could not be re-embedded, and the new model."""
    lines = [f"unreachable {missing.source}: {missing.message}" for missing in report.unreachable]
    lines += [f"dropped {identity} (no template left)" for identity in report.dropped_identities]
    if report.switched:
        lines.append(
            f"re-embedded {report.reembedded} template(s) with model "
            f"{report.new_model_sha256[:12]}…"
        )
    return lines


def migration_lines(report: MigrationReport) -> list[str]:
    """``bioverify gallery migrate``."""
    return [
        f"copied {report.identities} identities and {report.templates} templates from "
        f"{report.source} to {report.destination}; contents match (sha256 {report.sha256})"
    ]


# -- evaluation ------------------------------------------------------------------------------


__all__ = [
    "dataset_enrollment_lines",
    "echo_json",
    "echo_lines",
    "enrollment_lines",
    "identification_lines",
    "identity_details_lines",
    "identity_list_lines",
    "migration_lines",
    "pct",
    "quality_text",
    "reembed_lines",
    "removal_lines",
    "removal_warning",
    "skipped_lines",
    "verification_lines",
]
