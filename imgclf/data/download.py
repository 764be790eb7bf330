"""Download published files from a list of mirrors: verified, retried with backoff, never left half-written.

A mirror is a base URL (http://, https://, file://) or a local directory; a file's address is mirror + name.
"""

import gzip
import hashlib
import http.client
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from imgclf.atomic import atomic_path
from imgclf.errors import PipelineError
from imgclf.progress import Progress

READ_BYTES = 1 << 20  # read from a file or a response at a time, for the md5 and the progress line


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str | None = None  # the published checksum of the file itself; None: a user's file, not verified
    content_md5: str | None = None  # of its gunzipped content: accepts a recompressed copy (e.g. Debian's)


class ChecksumMismatch(Exception):
    pass


class NotFound(Exception):
    pass


def md5_of(path: Path, gunzip: bool = False) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with (gzip.open if gunzip else open)(path, "rb") as f:
        while chunk := f.read(READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, file: RemoteFile) -> None:
    if file.md5 is None:
        return
    actual = md5_of(path)
    if actual == file.md5:
        return
    if file.content_md5:
        try:
            if md5_of(path, gunzip=True) == file.content_md5:
                return
        except (OSError, EOFError, zlib.error):  # not gzip, cut short, or damaged inside: no match either way
            pass
    raise ChecksumMismatch(f"md5 {actual} does not match the published {file.md5}")


def address(mirror: str, name: str) -> str:
    if "://" not in mirror:
        return Path(mirror).expanduser().resolve().joinpath(name).as_uri()
    return mirror.rstrip("/") + "/" + name


def fetch_file(
    file: RemoteFile,
    mirrors: Sequence[str],
    target_dir: Path,
    retries: int,
    timeout: float,
    mirrors_key: str,
    backoff: float = 1.0,
) -> Path:
    """Return target_dir/<the last part of file.name>, downloading it only if no verified copy is already there.

    A mirror that does not have the file, fails after `retries`, or serves a file whose checksum is not the
    published one is passed over for the next. `mirrors_key` names the params.yaml key of `mirrors`, for the
    message when every mirror fails, which gives each mirror's reason.
    """
    target = Path(target_dir) / PurePosixPath(file.name).name  # a name may be a path below the mirror
    if target.is_file():
        try:
            verify(target, file)
            print(f"{target}: already downloaded and verified")
            return target
        except ChecksumMismatch:
            target.unlink()
    problems: dict[str, str] = {}  # url -> why it failed, the last attempt's reason
    for mirror in mirrors:
        url = address(mirror, file.name)
        for attempt in range(retries + 1):
            try:
                with atomic_path(target) as tmp:
                    _download(url, tmp, timeout, file.name)
                    verify(tmp, file)
                return target
            except NotFound:
                problems[url] = "not found"
                break
            except ChecksumMismatch as e:
                problems[url] = str(e)
                break
            except (OSError, http.client.HTTPException) as e:
                problems[url] = describe(e)
                if attempt < retries:
                    time.sleep(backoff * 2**attempt)
    raise PipelineError(_give_up_message(file.name, problems, mirrors_key))


VALIDATORS = ("ETag", "Last-Modified")  # what HTTP servers send to tell one version of a file from another


def remote_version(url: str, timeout: float) -> dict[str, str]:
    """What the server says of the file's current version, from a HEAD request: those of its ETag, Last-Modified and
    Content-Length it sends (a file:// URL gives the last two). Raises urllib.error.HTTPError when the server
    answers with an error, and OSError or http.client.HTTPException when it cannot be reached."""
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
        return {name: response.headers[name] for name in (*VALIDATORS, "Content-Length") if response.headers[name]}


def _download(url: str, out: Path, timeout: float, name: str) -> None:
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code in (404, 410):
            raise NotFound() from None
        raise
    except urllib.error.URLError as e:
        if isinstance(e.reason, FileNotFoundError):
            raise NotFound() from None
        raise
    with response, open(out, "wb") as f:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with Progress(f"{name}: downloaded", "KB", total, per_unit=1024) as progress:
            while chunk := response.read(READ_BYTES):
                f.write(chunk)
                received += len(chunk)
                progress.add(len(chunk))
            if total is not None and received != total:  # inside: no "downloaded" line for a transfer cut short
                raise http.client.IncompleteRead(b"", total - received)


def describe(e: BaseException) -> str:
    """An error of the network or of the server, in a few words."""
    if isinstance(e, http.client.IncompleteRead):
        return f"transfer cut short ({e.expected} bytes missing)"
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


OFFLINE_SIGNS = ("Name or service not known", "Temporary failure in name resolution", "Network is unreachable")


def _give_up_message(name: str, problems: dict[str, str], mirrors_key: str) -> str:
    offline = bool(problems) and all(any(sign in p for sign in OFFLINE_SIGNS) for p in problems.values())
    cause = "no network: " if offline else ""
    reasons = "; ".join(f"{url}: {why}" for url, why in problems.items()) or f"{mirrors_key} is empty"
    if mirrors_key == "data.folder":  # one URL, not a list of mirrors
        return (
            f"could not download {name} ({cause}{reasons}); point data.folder at a copy of the photos, "
            "e.g. dvc exp run -S 'data.folder=/path/to/photos' (a folder, or a .zip or .tar.gz file)"
        )
    return (
        f"could not download {name} from any mirror ({cause}{reasons}); point {mirrors_key} at a local copy, "
        f"e.g. dvc exp run -S '{mirrors_key}=[/path/to/folder]' (a directory or a file:// URL holding {name})"
    )
