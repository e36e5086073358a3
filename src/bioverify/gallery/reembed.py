"""Move a gallery to a new model by embedding every template's original file again.

Templates of two models cannot be compared, so a gallery changes model all at once: every
template's file is found again (at the absolute path stored at enrollment, or by file name
anywhere under ``from_dir``), checked against the stored sha256, embedded with the new
model, and all new vectors, mean templates and the gallery's model are written in one
transaction. A template whose file cannot be found (or no longer acquires) is reported;
while any is, the gallery keeps its old model unless ``drop_unreachable`` is given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from bioverify.bundle import file_sha256
from bioverify.errors import BioverifyError, GalleryError
from bioverify.gallery import records
from bioverify.gallery.protocol import GalleryVerifier
from bioverify.gallery.records import TemplateRecord
from bioverify.gallery.reports import ReembedReport, SkippedSample
from bioverify.gallery.store import UPSERT_META, Store, read_meta


class SourceFinder:
    """Finds a template's original file: its stored path, else by name under ``from_dir``;
    a file counts only if its sha256 matches the stored one."""

    def __init__(self, from_dir: Path | str | None) -> None:
        self._by_name: dict[str, list[Path]] = {}
        if from_dir is not None:
            root = Path(from_dir)
            if not root.is_dir():
                raise GalleryError(f"{root}: not a folder to re-embed from")
            for folder, _, names in os.walk(root):
                for name in names:
                    self._by_name.setdefault(name, []).append(Path(folder, name))
        self._digests: dict[Path, str | None] = {}

    def _digest(self, path: Path) -> str | None:
        if path not in self._digests:
            try:
                self._digests[path] = file_sha256(path) if path.is_file() else None
            except OSError:
                self._digests[path] = None
        return self._digests[path]

    def _candidates(self, template: TemplateRecord) -> Iterator[Path]:
        if template.source_path:
            yield Path(template.source_path)
        yield from self._by_name.get(template.source_name, [])

    def locate(self, template: TemplateRecord) -> Path | None:
        if template.source_sha256 is None:
            return None
        for path in self._candidates(template):
            if self._digest(path) == template.source_sha256:
                return path
        return None


def _unreachable(template: TemplateRecord, reason: str, message: str) -> SkippedSample:
    return SkippedSample(
        template.source_path or template.source_name,
        reason,
        f"template {template.id} of {template.identity!r}: {message}",
    )


def reembed(
    db: Store,
    verifier: GalleryVerifier,
    from_dir: Path | str | None = None,
    *,
    bundle_path: Path | str | None = None,
    drop_unreachable: bool = False,
) -> ReembedReport:
    """Re-embed every template of the gallery in ``db`` (either store) with ``verifier``'s
    model.

    Returns a report; ``switched`` is True when the gallery now belongs to the new model.
    With ``drop_unreachable`` the templates whose file was not found are deleted (and an
    identity left without templates with them) so that the switch can happen.
    """
    with db.read() as conn:
        meta = read_meta(conn)
        templates = records.template_records(conn)
    if meta["modality"] != verifier.modality:
        raise GalleryError(
            f"{db.location}: a {meta['modality']} gallery cannot move to a "
            f"{verifier.modality} model"
        )
    finder = SourceFinder(from_dir)
    embedded: dict[int, records.NewTemplate] = {}
    unreachable: list[SkippedSample] = []
    located: list[tuple[TemplateRecord, Path]] = []
    for template in templates:
        path = finder.locate(template)
        if path is None:
            unreachable.append(
                _unreachable(
                    template,
                    "unreachable",
                    f"no file {template.source_name!r} with the enrolled sha256 "
                    f"{(template.source_sha256 or '')[:12]}… at the stored path"
                    + (" or under the given folder" if from_dir is not None else ""),
                )
            )
        else:
            located.append((template, path))
    results = verifier.try_acquire_many([path for _, path in located])
    for (template, path), acquired in zip(located, results, strict=True):
        if isinstance(acquired, BioverifyError):
            unreachable.append(_unreachable(template, type(acquired).__name__, str(acquired)))
            continue
        embedding = records.check_embedding(acquired.embedding, verifier.embedding_dim, str(path))
        embedded[template.id] = records.NewTemplate(
            embedding, records.SourceRecord(path.name), acquired.quality, list(acquired.notes)
        )
    old = meta["model_sha256"]
    if unreachable and not drop_unreachable:
        return ReembedReport(old, verifier.model_sha256, 0, unreachable, [], False)
    bundle = Path(bundle_path).resolve() if bundle_path else verifier.info.folder
    dropped: list[str] = []
    with db.write(new_dim=verifier.embedding_dim) as conn:
        now = read_meta(conn)
        ids = {row[0] for row in conn.execute("SELECT id FROM templates")}
        if now["model_sha256"] != old or ids != {t.id for t in templates}:
            raise GalleryError(
                f"{db.location}: the gallery changed while re-embedding; run it again"
            )
        for template_id, new in embedded.items():
            conn.execute(
                "UPDATE templates SET embedding = ?, quality = ?, notes = ?, model_sha256 = ? "
                "WHERE id = ?",
                (
                    records.to_blob(new.embedding),
                    records.to_json(new.quality),
                    records.to_json(new.notes),
                    verifier.model_sha256,
                    template_id,
                ),
            )
        gone = [t.id for t in templates if t.id not in embedded]
        conn.executemany("DELETE FROM templates WHERE id = ?", [(i,) for i in gone])
        for summary in records.identity_summaries(conn):
            if records.refresh_identity(conn, summary.id, verifier.embedding_dim) == 0:
                dropped.append(summary.id)
        conn.executemany(
            UPSERT_META,
            [
                ("model_sha256", verifier.model_sha256),
                ("modality", verifier.modality),
                ("embedding_dim", str(verifier.embedding_dim)),
                ("bundle_path", str(bundle)),
            ],
        )
    db.scrub()  # the old model's vectors are biometric data too
    return ReembedReport(old, verifier.model_sha256, len(embedded), unreachable, dropped, True)


__all__ = ["SourceFinder", "reembed"]
