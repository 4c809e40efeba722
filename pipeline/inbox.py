"""方式三 file delivery: ``sgs inbox run [DEPT]`` and the ``sgs_inbox`` DAG take the files in departments' inboxes.

The inbox root is ``SGS_INBOX_DIR`` (default ``var/inbox`` under the project's home), one folder per department
(its code, or the folder its file names with ``inbox:``). Each new file there (CSV in UTF-8 or GB18030, XLSX, or
a ZIP of them as copied from a disc) goes through the stages of a database run (``pipeline.prepare.prepare_chunk``:
the rule catalogue, quarantine with Chinese reasons; ``store.loader.load_batch``: records, history, the change
sequence the push sends) under an ``ingest_run`` with trigger ``inbox``. The business key names the decision, so
a decision sent by database and by file is one record. Rows of another unit (数据来源单位代码 not the
department's credit code) are refused with the reason (``pipeline.prepare.foreign_rows``).

Exactly once, whatever kills the process (docs/inbox.md):

1. the file's content hash is looked up in ``inbox_file`` (``store.inbox``);
2. a new file is loaded in ONE store transaction that also inserts its ``inbox_file`` row: after a kill, either
   all of the file is in the store, or none of it;
3. the receipt workbook is written to ``<dept>/archive/`` under a name that depends only on the file (write to a
   temporary name, then rename: a kill never leaves half a receipt), and ``inbox_file.receipt_at`` is set;
4. the file is moved next to it.

A re-run finds the file again (still in the inbox), sees its hash loaded, and only finishes steps 3-4: the same
store and exactly one receipt. The same file dropped again later is recognised and archived without loading. A
file that cannot be used (unreadable, unknown headers, too big, an unsafe ZIP) loads nothing: it moves to
``<dept>/rejected/`` with a ``.reason.txt`` in Chinese. Exit codes: 0 all rows accepted, 1 some rows quarantined,
2 a file was unusable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from connectors.files import FileRejected, max_file_bytes, open_any_template, unpack_zip
from connectors.sql import RawChunk
from pipeline.config import ConfigError, DatasetConfig, Department, find_department, loadable_departments
from pipeline.prepare import Owner, prepare_chunk
from pipeline.settings import SHANGHAI, inbox_dir, store_engine
from store import inbox as inbox_store
from store import runs
from store.bulk import uses_copy
from store.loader import load_batch
from transforms.masking import mask_exception, mask_text
from transforms.settings import NotPublicRules

log = logging.getLogger("sgs.inbox")

ARCHIVE, REJECTED = "archive", "rejected"
RECEIPT_SUFFIX = ".receipt.xlsx"
REASON_SUFFIX = ".reason.txt"
#: What an inbox takes; anything else is rejected with the reason.
SUFFIXES = (".csv", ".xlsx", ".zip")
#: Names an inbox leaves alone: hidden files, Excel's lock files and the names copy tools give a file while it
#: is still being written (copy to such a name, then rename: the inbox never reads half a file).
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart")
_TMP_PREFIX = ".sgs-tmp-"
_LOCK = ".sgs-inbox.lock"


def settle_seconds() -> float:
    """``SGS_INBOX_SETTLE_SECONDS`` (default 0): a file changed more recently than this is left for the next
    run (a copy onto a share may still be running)."""
    raw = os.environ.get("SGS_INBOX_SETTLE_SECONDS", "").strip()
    try:
        return max(0.0, float(raw)) if raw else 0.0
    except ValueError:
        raise ConfigError(f"环境变量 SGS_INBOX_SETTLE_SECONDS={raw!r} 不是秒数") from None


Status = Literal["loaded", "duplicate", "rejected", "busy"]


@dataclasses.dataclass
class FileOutcome:
    """What the inbox did with one file."""

    department: str
    name: str
    status: Status
    members: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    reason: str | None = None
    moved_to: str | None = None
    receipt: str | None = None

    @property
    def quarantined(self) -> int:
        return sum(int(m["quarantined"]) for m in self.members)

    @property
    def exit_code(self) -> int:
        if self.status == "rejected":
            return 2
        return 1 if self.status == "loaded" and self.quarantined else 0

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "file": mask_text(self.name), "status": self.status, "members": self.members,
                "quarantined": self.quarantined, "reason": self.reason, "moved_to": mask_text(self.moved_to),
                "receipt": mask_text(self.receipt)}


@dataclasses.dataclass
class InboxResult:
    """What one run over the inboxes did: the files, and problems of whole inboxes (a folder two departments
    name, an unreadable folder)."""

    files: list[FileOutcome] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max([f.exit_code for f in self.files] + [2 for _ in self.problems], default=0)

    def as_dict(self) -> dict[str, Any]:
        return {"files": [f.as_dict() for f in self.files], "problems": self.problems, "exit_code": self.exit_code}


def inbox_folder(dept: Department, root: Path | None = None) -> Path:
    """The department's inbox: ``<root>/<inbox: or code>``."""
    return (root or inbox_dir()) / (dept.inbox or dept.code)


def run_inbox(
    department: str | None = None, *, engine: Engine | None = None, root: Path | None = None,
    departments: dict[str, Department] | None = None, today: dt.date | None = None,
) -> InboxResult:
    """Take the new files of one department's inbox (``department``) or of every department's. Raises
    :class:`ConfigError` for an unknown department; a store outage raises (the files stay for the next run)."""
    root = root or inbox_dir()
    if departments is None:
        departments = {department: find_department(department)} if department else loadable_departments()
    elif department:
        if department not in departments:
            raise ConfigError(f"没有部门 {department!r}")
        departments = {department: departments[department]}
    result = InboxResult()
    engine = engine or store_engine()
    folders: dict[Path, list[Department]] = {}
    every = loadable_departments() if department else departments  # a folder another department names too
    for d in every.values():
        folders.setdefault(inbox_folder(d, root).resolve(), []).append(d)
    for dept in departments.values():
        folder = inbox_folder(dept, root)
        sharing = [d.code for d in folders.get(folder.resolve(), []) if d.code != dept.code]
        if sharing:
            result.problems.append(
                f"部门 {dept.code} 与 {', '.join(sharing)} 的收件箱是同一个文件夹 {folder}：文件无法确定属于哪个部门，"
                "未处理；请在部门配置文件中用 inbox: 给各部门不同的文件夹"
            )
            continue
        try:
            result.files.extend(DepartmentInbox(dept, folder, engine, today=today).run())
        except OSError as exc:
            result.problems.append(f"部门 {dept.code} 的收件箱 {folder} 无法读写（{type(exc).__name__}: {exc.strerror}）")
    return result


def publish_quality(result: InboxResult, engine: Engine) -> Path | None:
    """The data-quality pages (and each run's result in the GX project's Data Docs, docs/audit.md) after the files
    loaded, as after a database run; the index path, or None when no file was loaded. A page that cannot be written is logged, never an error of the loaded data."""
    from pipeline.settings import quality_dir, var_dir
    from reports.quality import publish_run

    index = None
    run_ids = [int(m["run_id"]) for f in result.files if f.status == "loaded" for m in f.members]
    if not run_ids:
        return None
    try:
        departments = loadable_departments()
        for run_id in run_ids:
            index = publish_run(engine, run_id, departments=departments, out=quality_dir(), gx_root=var_dir())
    except Exception:  # noqa: BLE001 - the report is secondary to the loaded rows
        log.exception("data-quality pages after the inbox run could not be written")
    return index


def content_hash(path: Path) -> str:
    """SHA-256 of a file (hex), read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            h.update(block)
    return h.hexdigest()


class DepartmentInbox:
    """One department's inbox folder during one run (a lock file keeps a second process out meanwhile)."""

    def __init__(self, dept: Department, folder: Path, engine: Engine, *, today: dt.date | None = None) -> None:
        self.dept, self.folder, self.engine = dept, folder, engine
        self.today = today or dt.datetime.now(SHANGHAI).date()
        self.owner = Owner(dept.uscc, dept.name)

    def run(self) -> list[FileOutcome]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked() as held:
            if not held:
                log.info("inbox %s: another process is working on it; skipped", self.dept.code)
                return []
            for sub in (ARCHIVE, REJECTED):
                (self.folder / sub).mkdir(exist_ok=True)
                for stale in (self.folder / sub).glob(f"{_TMP_PREFIX}*"):  # left by a killed run (we hold the lock)
                    stale.unlink(missing_ok=True)
            return [self.process(p) for p in self.new_files()]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        fd = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    yield False
                    return
                raise
            yield True
        finally:
            os.close(fd)  # closing releases the lock

    def new_files(self) -> list[Path]:
        """The files waiting in the folder, oldest first."""
        settle = settle_seconds()
        now = time.time()
        found: list[tuple[float, str, Path]] = []
        for p in self.folder.iterdir():
            name = p.name
            if name.startswith((".", "~$")) or name.lower().endswith(IGNORED_SUFFIXES):
                continue
            if p.is_dir() and not p.is_symlink():
                continue  # archive/, rejected/ and whatever else an operator keeps there
            try:
                mtime = p.lstat().st_mtime
            except FileNotFoundError:
                continue
            if settle and now - mtime < settle:
                continue
            found.append((mtime, name, p))
        return [p for _, _, p in sorted(found)]

    # --- one file -------------------------------------------------------------------------------------------

    def process(self, path: Path) -> FileOutcome:
        """Load one file (or finish what a killed run left of it); never raises for a bad file."""
        code = self.dept.code
        try:
            digest, size = self._admit(path)
        except FileRejected as exc:
            return self._reject(path, str(exc), None)
        except FileNotFoundError:
            return FileOutcome(code, path.name, "busy", reason="文件已被另一进程取走")
        loaded = inbox_store.find(self.engine, code, digest)
        fresh = loaded is None
        if loaded is None:
            try:
                loaded = self._load(path, digest, size)
            except FileRejected as exc:
                return self._reject(path, str(exc), digest)
            except sa_exc.IntegrityError:  # another process loaded the same content meanwhile
                loaded = inbox_store.find(self.engine, code, digest)
                if loaded is None:
                    raise
                fresh = False
        return self._archive(path, digest, loaded, fresh)

    def _admit(self, path: Path) -> tuple[str, int]:
        """(content hash, size) of a file the inbox may read; FileRejected for one it must not."""
        if path.is_symlink():
            raise FileRejected(f"{path.name} 是符号链接：收件箱只接收文件本身")
        if not path.is_file():
            raise FileRejected(f"{path.name} 不是普通文件：收件箱只接收 CSV、XLSX 或 ZIP 文件")
        if not path.name.lower().endswith(SUFFIXES):
            raise FileRejected(f"{path.name}：收件箱只接收 .csv、.xlsx 文件或装有它们的 .zip 压缩包")
        size = path.stat().st_size
        limit = max_file_bytes()
        if size > limit:
            raise FileRejected(
                f"{path.name} 有 {size / 1024 / 1024:.0f} MB，超过上限 {limit / 1024 / 1024:.0f} MB：请按月份拆成几个较小的文件分别提交"
                "（上限由环境变量 SGS_FILE_MAX_MB 设置）"
            )
        return content_hash(path), size

    def _mapping(self, dataset: str, columns: list[str]) -> DatasetConfig:
        """The national template's columns as they are (the file is in the template); the department's
        publicity inputs (severity, special domain, 不予公开 categories) when its file has the dataset."""
        base = self.dept.datasets.get(dataset)
        extra: dict[str, Any] = {}
        if base is not None:
            extra = {"severity": base.severity, "special_domain": base.special_domain}
            if base.not_public is not None and base.not_public.categories:
                extra["not_public"] = NotPublicRules(categories=base.not_public.categories, reason=base.not_public.reason)
        return DatasetConfig(table="inbox_file", cursor="行号", primary_key=["文件", "行号"], columns={c: c for c in columns}, **extra)

    def _load(self, path: Path, digest: str, size: int) -> inbox_store.LoadedFile:
        """Every template of the file in one store transaction with its ``inbox_file`` row; FileRejected (nothing
        loaded) when any of them cannot be used."""
        code = self.dept.code
        with tempfile.TemporaryDirectory(prefix="sgs-inbox-") as tmp:
            members = unpack_zip(path, Path(tmp)) if path.name.lower().endswith(".zip") else [(path.name, path)]
            datasets = [open_any_template(p)[0] for _, p in members]  # headers first: a bad one loads nothing
            run_ids = [runs.start_run(self.engine, code, ds, runs.INBOX_TRIGGER)[0] for ds in datasets]
            stats: list[dict[str, Any]] = []
            try:
                with self.engine.begin() as conn:
                    now = dt.datetime.now(dt.UTC)
                    file_id = inbox_store.claim(conn, code, digest, path.name, size, now)
                    for k, ((name, member), run_id) in enumerate(zip(members, run_ids, strict=True), start=1):
                        stats.append(self._load_member(conn, f"{digest[:16]}:{k}", name, member, run_id))
                    inbox_store.record_counts(conn, file_id, stats)
            except BaseException as exc:
                text = mask_text(f"{type(exc).__name__}: {exc}") if not isinstance(exc, FileRejected) else str(exc)
                for run_id in run_ids:
                    with contextlib.suppress(Exception):  # the store may be what failed
                        runs.finish_run(self.engine, run_id, status="failed", error=(text or "")[:4000])
                if not isinstance(exc, FileRejected):
                    mask_exception(exc)
                raise
        for run_id in run_ids:
            runs.finish_run(self.engine, run_id, status="success")
        loaded = inbox_store.find(self.engine, code, digest)
        assert loaded is not None
        log.info("inbox %s: %s loaded (%s)", code, mask_text(path.name), stats)
        return loaded

    def _load_member(self, conn: Any, file_key: str, name: str, member: Path, run_id: int) -> dict[str, Any]:
        code = self.dept.code
        dataset, columns, chunks = open_any_template(member)
        cfg = self._mapping(dataset, columns)
        copy = uses_copy(conn)
        # The department's database watermark is not the file's to move: it is read (and locked, so a database
        # run of the department waits for this file) and handed back unchanged.
        watermark = runs.read_watermark(conn, code, dataset, lock=True)
        counts = runs.Counts()
        offset = 0
        for frame in chunks:
            rows = len(frame)
            frame = frame.assign(文件=file_key, 行号=pd.RangeIndex(offset + 2, offset + 2 + rows))
            offset += rows
            chunk = prepare_chunk(RawChunk(frame, cursor_from=watermark, cursor_to=None), cfg, dataset, code, self.today,
                                  None, copy, owner=self.owner)
            counts.add(load_batch(conn, run_id, chunk.batch))
        return {"name": name, "dataset": dataset, "run_id": run_id, **counts.as_dict()}

    # --- where the file goes --------------------------------------------------------------------------------

    def _archive(self, path: Path, digest: str, loaded: inbox_store.LoadedFile, fresh: bool) -> FileOutcome:
        """Receipt (once per file content), then the file into ``archive/``."""
        archive = self.folder / ARCHIVE
        dest = destination(archive, path.name, digest)
        receipt_name = dest + RECEIPT_SUFFIX
        code = self.dept.code
        finishing = fresh or loaded.receipt_at is None or (
            loaded.receipt_name == receipt_name and (archive / receipt_name).exists() and not (archive / dest).exists()
        )
        if loaded.receipt_at is None:
            self._write_receipt(archive / receipt_name, loaded)
            inbox_store.mark_receipt(self.engine, loaded.id, receipt_name)
        try:
            move(path, archive / dest)
        except FileNotFoundError:
            return FileOutcome(code, path.name, "busy", loaded.members, reason="文件已被另一进程取走")
        if finishing:
            return FileOutcome(code, path.name, "loaded", loaded.members, moved_to=str(archive / dest),
                               receipt=str(archive / (loaded.receipt_name or receipt_name)))
        when = loaded.loaded_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        reason = (f"与 {when} 已入库的文件“{loaded.file_name}”内容相同，未重复入库"
                  + (f"（回执：{loaded.receipt_name}）" if loaded.receipt_name else ""))
        log.info("inbox %s: %s is a duplicate", code, mask_text(path.name))
        return FileOutcome(code, path.name, "duplicate", loaded.members, reason=reason, moved_to=str(archive / dest),
                           receipt=str(archive / loaded.receipt_name) if loaded.receipt_name else None)

    def _write_receipt(self, out: Path, loaded: inbox_store.LoadedFile) -> None:
        from reports.receipt import write_receipt

        problems = inbox_store.problems(self.engine, self.dept.code, [int(m["run_id"]) for m in loaded.members])
        with atomic_path(out) as tmp:
            write_receipt(
                tmp, department=self.dept.code, department_name=self.dept.name, file_name=loaded.file_name,
                content_hash=loaded.content_hash, size=loaded.size, loaded_at=loaded.loaded_at, members=loaded.members,
                problems=problems,
            )

    def _reject(self, path: Path, reason: str, digest: str | None) -> FileOutcome:
        """The file into ``rejected/`` with its reason beside it; nothing of it is in the store."""
        code = self.dept.code
        rejected = self.folder / REJECTED
        if digest is None:
            # Not read (a link, a file too big to hash for nothing): a fingerprint of what the folder shows, the
            # same on a re-run, only used to tell two rejected files of one name apart.
            try:
                st = path.lstat()
                digest = hashlib.sha256(f"{path.name}|{st.st_size}|{st.st_mtime_ns}".encode("utf-8", "surrogatepass")).hexdigest()
            except OSError:
                digest = "0" * 64
        dest = destination(rejected, path.name, digest)
        reason_text = f"文件“{path.name}”未入库（{self.dept.name}，{dt.datetime.now(SHANGHAI):%Y-%m-%d %H:%M}）。\n原因：{reason}\n"
        with atomic_path(rejected / (dest + REASON_SUFFIX)) as tmp:
            tmp.write_text(mask_text(reason_text), encoding="utf-8")
        try:
            move(path, rejected / dest)
        except FileNotFoundError:
            return FileOutcome(code, path.name, "busy", reason="文件已被另一进程取走")
        log.warning("inbox %s: %s rejected: %s", code, mask_text(path.name), mask_text(reason))
        return FileOutcome(code, path.name, "rejected", reason=mask_text(reason), moved_to=str(rejected / dest))


def destination(folder: Path, name: str, digest: str) -> str:
    """The name a file takes in ``archive/`` or ``rejected/``: its own, unless another file of that name is
    already there; then ``<stem>.<first 8 hex of its hash><suffix>``. Depends only on the folder's files and the
    file, so a re-run after a kill chooses the same name (and the same receipt name)."""
    existing = folder / name
    if not existing.exists() and not existing.is_symlink():
        return name
    if existing.is_file() and not existing.is_symlink() and content_hash(existing) == digest:
        return name
    p = Path(name)
    return f"{p.stem}.{digest[:8]}{p.suffix}"


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final`` to write to; renamed onto ``final`` when the block ends without an
    error (a kill leaves a ``.sgs-tmp-`` file the next run removes, never half a ``final``)."""
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o644 & ~_umask())
        os.replace(tmp_path, final)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def move(src: Path, dst: Path) -> None:
    """Move a file, atomically on one file system (``archive/`` is normally inside the inbox)."""
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        src.unlink()

