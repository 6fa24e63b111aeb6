"""From a configured source to raw instruction rows, each bad record a reject, never a crash.

One function per loader; all of them yield `RawRow`s (instruction and response untouched,
with provenance) or `IngestReject`s (a stable reason code and a detail). Python files are
read as text and, to derive an instruction from the module docstring, parsed with `ast`:
never imported or executed.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import platform
import socket
import sysconfig
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import yaml

from lintseq_assets.runtime.environment import PACKAGE_DATA
from lintseq_assets.sources.readers import InputError, iter_records
from lintseq_assets.sources.spec import SourceSpec

EMBEDDED_FILE = PACKAGE_DATA / "instructions.yaml"
# Test suites are not training code, and site-packages is not the standard library.
STDLIB_EXCLUDED_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
DEFAULT_MAX_RECORD_BYTES = 2_000_000  # bigger responses are refused at the door (`too_long`)


@dataclass(frozen=True)
class RawRow:
    record_id: str
    source: str
    source_revision: str
    source_row: int
    instruction: str
    response: str


@dataclass(frozen=True)
class IngestReject:
    record_id: str
    source: str
    reason: str
    detail: str


class SourceUnavailable(RuntimeError):
    """The source as a whole cannot be read (missing path, column, offline hub, ...)."""


@dataclass
class OpenedSource:
    """A readable source: its revision is known before its rows are read."""

    spec: SourceSpec
    revision: str
    records: Iterator[RawRow | IngestReject]


def open_source(spec: SourceSpec, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> OpenedSource:
    """Resolve the source and its revision; raise SourceUnavailable if it cannot be read at all."""
    opener = _OPENERS[spec.loader]
    try:
        revision, fields = opener(spec)
    except SourceUnavailable:
        raise
    except Exception as err:  # a loader's own error type (datasets, pyarrow, OS) -> one clear message
        raise SourceUnavailable(f"{type(err).__name__}: {err}"[:500]) from err
    return OpenedSource(spec, revision, _to_rows(spec, revision, fields, max_record_bytes))


# --- shaping records -------------------------------------------------------------------------

# A loader yields (row_index, key or None, instruction value, response value) or an IngestReject.
Fields = Iterator["tuple[int, object, object, object] | IngestReject"]


def _to_rows(spec: SourceSpec, revision: str, fields: Fields, max_bytes: int) -> Iterator[RawRow | IngestReject]:
    seen: set[str] = set()
    for item in fields:
        if isinstance(item, IngestReject):
            yield item
            continue
        row, key, instruction, response = item
        record_id = f"{spec.name}:{key if key is not None else row}"
        if record_id in seen:
            yield IngestReject(f"{record_id}#row{row}", spec.name, "duplicate_record_id", f"id {key!r} already used in this source")
            continue
        seen.add(record_id)
        problem = _check_text("response", response, max_bytes) or _check_text("instruction", instruction if instruction is not None else "", max_bytes)
        if problem:
            yield IngestReject(record_id, spec.name, *problem)
            continue
        yield RawRow(record_id, spec.name, revision, row, instruction or "", response)


def _check_text(name: str, value: object, max_bytes: int) -> tuple[str, str] | None:
    if value is None:
        return ("missing_field", f"{name} is null")
    if not isinstance(value, str):
        return ("not_text", f"{name} is {type(value).__name__}, not text")
    if len(value) > max_bytes:
        return ("too_long", f"{name} has {len(value)} characters (limit {max_bytes})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ("not_text", f"{name} holds lone surrogates: not valid Unicode")
    return None


# --- loaders ---------------------------------------------------------------------------------


def _docstring_instruction(text: str) -> str:
    """First paragraph of the module docstring, or "" (parse only; the code is never run)."""
    if len(text) > 1_000_000:
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = ast.get_docstring(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    return doc.strip().split("\n\n")[0].strip() if doc else ""


def _py_file_fields(source: str, files: Iterable[tuple[str, Path]]) -> Fields:
    for row, (key, file) in enumerate(files):
        try:
            data = file.read_bytes()
        except OSError as err:
            yield IngestReject(f"{source}:{key}", source, "unreadable", str(err)[:300])
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            yield IngestReject(f"{source}:{key}", source, "not_text", f"not UTF-8 ({err.reason} at byte {err.start})")
            continue
        yield row, key, _docstring_instruction(text), text


def _tree_digest(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for key, file in files:
        digest.update(key.encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def stdlib_files(limit: int | None) -> list[tuple[str, Path]]:
    """A deterministic subset of the running Python's standard library.

    Files are ordered by the hash of their relative path, which spreads a small subset over
    the whole library instead of taking the alphabetically first package; `limit=None` is
    the full library.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if p.is_file() and not STDLIB_EXCLUDED_DIRS.intersection(p.relative_to(root).parts[:-1])
    ]
    files.sort(key=lambda kp: hashlib.sha256(kp[0].encode()).hexdigest())
    return files if limit is None else files[:limit]


def _open_stdlib(spec: SourceSpec) -> tuple[str, Fields]:
    files = stdlib_files(spec.limit)
    return f"python-{platform.python_version()}", _py_file_fields(spec.name, files)


def _open_python(spec: SourceSpec) -> tuple[str, Fields]:
    path = Path(spec.path).expanduser()
    if path.is_dir():
        files = [(p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*.py")) if p.is_file()]
    elif path.is_file():
        files = [(path.name, path)]
    else:
        matches = sorted(Path(m) for m in glob.glob(spec.path, recursive=True) if m.endswith(".py"))
        if not matches:
            raise SourceUnavailable(f"{spec.path}: no such folder, file or matching .py files (a relative path is read from the folder of the sources.yaml that names it)")
        files = [(m.as_posix(), m) for m in matches if m.is_file()]
    if spec.limit is not None:
        files = files[: spec.limit]
    return _tree_digest(files), _py_file_fields(spec.name, files)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _open_embedded(spec: SourceSpec) -> tuple[str, Fields]:
    path = Path(spec.path) if spec.path else EMBEDDED_FILE
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]

    def fields() -> Fields:
        for row, entry in enumerate(entries[: spec.limit] if spec.limit is not None else entries):
            instruction = entry.get("instruction")
            # YAML block scalars end in a newline the author never meant as part of the text.
            yield row, entry.get("id"), instruction.strip() if isinstance(instruction, str) else instruction, entry.get("response")

    return _file_digest(path), fields()


def _open_local_records(spec: SourceSpec) -> tuple[str, Fields]:
    """JSONL and Parquet through the shared reader (one reader for the CLI and the assets)."""
    path = Path(spec.path).expanduser()
    if not path.is_file():
        raise SourceUnavailable(f"{path}: no such file (a relative path is read from the folder of the sources.yaml that names it)")
    cols = spec.columns
    records = iter_records(path, code_field=cols.response, id_field=cols.id)

    def fields() -> Fields:
        try:
            for count, record in enumerate(records):
                if spec.limit is not None and count >= spec.limit:
                    return
                if record.error:
                    yield IngestReject(f"{spec.name}:{record.record_id}", spec.name, *record.error)
                    continue
                key = record.record_id if cols.id and cols.id in record.fields else None
                instruction = record.fields.get(cols.instruction) if cols.instruction else ""
                yield record.row, key, instruction, record.code
        except InputError as err:
            yield IngestReject(f"{spec.name}:*", spec.name, "source_unreadable", str(err)[:500])

    return _file_digest(path), fields()


def _dataset_fields(spec: SourceSpec, dataset) -> Fields:
    """Rows of a `datasets.Dataset`, in order, in batches (memory stays bounded)."""
    cols = spec.columns
    needed = [c for c in (cols.instruction, cols.response, cols.id) if c]
    missing = [c for c in needed if c not in dataset.column_names]
    if missing:
        raise SourceUnavailable(f"columns {missing} not in dataset (columns: {', '.join(dataset.column_names)})")
    if spec.limit is not None:
        dataset = dataset.select(range(min(spec.limit, len(dataset))))
    dataset = dataset.select_columns(needed)

    def fields() -> Fields:
        row = 0
        for batch in dataset.iter(batch_size=1000):
            size = len(batch[cols.response])
            for i in range(size):
                key = batch[cols.id][i] if cols.id else None
                instruction = batch[cols.instruction][i] if cols.instruction else ""
                yield row, key, instruction, batch[cols.response][i]
                row += 1

    return fields()


def _pick_split(spec: SourceSpec, loaded):
    if hasattr(loaded, "keys") and not hasattr(loaded, "column_names"):  # a DatasetDict
        if spec.split not in loaded:
            raise SourceUnavailable(f"split {spec.split!r} not in {sorted(loaded.keys())}")
        return loaded[spec.split]
    return loaded


def _open_arrow(spec: SourceSpec) -> tuple[str, Fields]:
    from datasets import Dataset

    path = Path(spec.path).expanduser()
    if not path.is_file():
        raise SourceUnavailable(f"{path}: no such file (a relative path is read from the folder of the sources.yaml that names it)")
    return _file_digest(path), _dataset_fields(spec, Dataset.from_file(str(path)))


def _open_disk(spec: SourceSpec) -> tuple[str, Fields]:
    from datasets import load_from_disk

    path = Path(spec.path).expanduser()
    if not path.is_dir():
        raise SourceUnavailable(f"{path}: no such save_to_disk folder (a relative path is read from the folder of the sources.yaml that names it)")
    dataset = _pick_split(spec, load_from_disk(str(path)))
    return f"fingerprint-{dataset._fingerprint}", _dataset_fields(spec, dataset)


HUB_PROBE_SECONDS = 3.0  # one TCP connect; `load_dataset` without a network retries for ~20 s


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether the hub's endpoint takes a TCP connection (False in offline mode, HF_HUB_OFFLINE=1)."""
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    return True


@contextmanager
def hub_offline_mode():
    """`datasets` and `huggingface_hub` in offline mode for the block: the local cache or a fast
    failure, never a retry loop (what HF_HUB_OFFLINE=1 does, for one call)."""
    import datasets.config
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def _hub_revision(spec: SourceSpec) -> str:
    """The resolved commit when the hub answers; the requested revision otherwise (offline)."""
    requested = spec.revision or "main"
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(spec.dataset, revision=requested).sha or requested
    except Exception:  # offline, private, or rate-limited: the requested name is still true
        return requested


def _open_hub(spec: SourceSpec) -> tuple[str, Fields]:
    """Online: the hub's dataset at its resolved commit. Offline (HF_HUB_OFFLINE, or the hub
    does not answer a TCP connect): the local cache at once, or SourceUnavailable."""
    from datasets import load_dataset
    from huggingface_hub import constants

    def load():
        return load_dataset(spec.dataset, spec.subset, revision=spec.revision, split=spec.split, **spec.options)

    if hub_reachable():
        return _hub_revision(spec), _dataset_fields(spec, load())
    with hub_offline_mode():
        try:
            dataset = load()
        except Exception as err:
            raise SourceUnavailable(
                f"hub dataset {spec.dataset} is not in the local cache and the hub ({constants.ENDPOINT}) cannot be reached "
                f"({type(err).__name__}); connect to the network, or disable the source (enabled: false)"
            ) from err
    return spec.revision or "main", _dataset_fields(spec, dataset)


_OPENERS = {
    "stdlib": _open_stdlib,
    "embedded": _open_embedded,
    "python": _open_python,
    "jsonl": _open_local_records,
    "parquet": _open_local_records,
    "arrow": _open_arrow,
    "disk": _open_disk,
    "hub": _open_hub,
}
