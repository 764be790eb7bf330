import dataclasses
import gzip
import hashlib
import socket
import urllib.error
from pathlib import Path

import pytest

from imgclf.data.catalog import MNIST
from imgclf.data.download import RemoteFile, fetch_file
from imgclf.data.fetch import fetch
from imgclf.errors import PipelineError
from tests.helpers.fileserver import serve
from tests.helpers.published import idx_dataset

NAME = "train-images-idx3-ubyte.gz"


@pytest.fixture
def server():
    with serve() as state:
        state.files.update(idx_dataset(n_train=50, n_test=10))
        yield state


def published(server, name: str = NAME) -> RemoteFile:
    return RemoteFile(name, hashlib.md5(server.files[name]).hexdigest())


def get(server, folder: Path, file: RemoteFile, mirrors=None, retries: int = 2) -> Path:
    return fetch_file(file, mirrors or [server.url], folder, retries, 5.0, "data.mirrors.mnist", backoff=0.01)


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_is_verified_and_not_repeated(tmp_path: Path, server):
    path = get(server, tmp_path, published(server))
    assert path.read_bytes() == server.files[NAME]
    assert get(server, tmp_path, published(server)) == path
    assert server.requests[NAME] == 1
    assert listing(tmp_path) == [NAME]


def test_a_download_writes_plain_lines_to_a_log(tmp_path: Path, server, capsys):
    """In a CI log or a queued experiment's log file, no carriage returns: tqdm's bar left "name: 0%|..." and its
    erasure on the error's line."""
    size_kb = -(-len(server.files[NAME]) // 1024)
    get(server, tmp_path / "a", published(server))
    log = capsys.readouterr().err
    assert "\r" not in log
    assert log.startswith(f"{NAME}: downloaded {size_kb}/{size_kb} KB in ") and log.count("\n") == 1
    server.faults[NAME] = "truncate"
    with pytest.raises(PipelineError):
        get(server, tmp_path / "b", published(server), retries=0)
    assert capsys.readouterr().err == "", "a transfer cut short: the error says it, once"


def test_wrong_checksum_names_file_and_both_hashes_and_leaves_nothing(tmp_path: Path, server):
    wrong = RemoteFile(NAME, "0" * 32)
    actual = hashlib.md5(server.files[NAME]).hexdigest()
    with pytest.raises(PipelineError) as info:
        get(server, tmp_path, wrong)
    expected = f"{NAME} from any mirror ({server.url}/{NAME}: md5 {actual} does not match the published {'0' * 32})"
    assert expected in str(info.value)
    assert listing(tmp_path) == []
    assert get(server, tmp_path, published(server)).read_bytes() == server.files[NAME]


def test_truncated_transfer_is_retried_then_reported_and_a_rerun_recovers(tmp_path: Path, server):
    server.faults[NAME] = "truncate"
    with pytest.raises(PipelineError, match=r"could not download .* transfer cut short"):
        get(server, tmp_path, published(server), retries=2)
    assert server.requests[NAME] == 3
    assert listing(tmp_path) == []
    del server.faults[NAME]
    assert get(server, tmp_path, published(server)).read_bytes() == server.files[NAME]


def test_connection_dropped_midway_is_retried_and_a_rerun_recovers(tmp_path: Path, server):
    server.faults[NAME] = "drop:1"
    assert get(server, tmp_path, published(server)).read_bytes() == server.files[NAME]
    assert server.requests[NAME] == 2
    server.faults[NAME], server.requests[NAME] = "drop:10", 0
    with pytest.raises(PipelineError, match="transfer cut short"):
        get(server, tmp_path / "again", published(server), retries=1)
    assert listing(tmp_path / "again") == []
    server.faults[NAME] = ""
    assert get(server, tmp_path / "again", published(server)).read_bytes() == server.files[NAME]


def test_missing_file_moves_on_to_the_next_mirror(tmp_path: Path, server):
    file = published(server)
    with pytest.raises(PipelineError, match=r"/nowhere.gz: not found\); point data.mirrors.mnist at a local copy"):
        get(server, tmp_path, RemoteFile("nowhere.gz", "0" * 32))
    assert listing(tmp_path) == []
    server.files["nowhere.gz"] = b"now here"
    assert get(server, tmp_path, RemoteFile("nowhere.gz", hashlib.md5(b"now here").hexdigest())).is_file()
    with serve() as empty:
        assert get(server, tmp_path, file, mirrors=[empty.url, server.url]).is_file()
        assert empty.requests[NAME] == 1


def test_local_directory_and_file_url_mirrors(tmp_path: Path, server):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / NAME).write_bytes(server.files[NAME])
    assert get(server, tmp_path / "a", published(server), mirrors=[str(mirror)]).is_file()
    assert get(server, tmp_path / "b", published(server), mirrors=[mirror.as_uri()]).is_file()
    assert server.requests[NAME] == 0


def test_a_corrupted_copy_on_disk_is_downloaded_again(tmp_path: Path, server):
    (tmp_path / NAME).write_bytes(b"bitrot")
    assert get(server, tmp_path, published(server)).read_bytes() == server.files[NAME]


def test_no_network_says_so_and_how_to_use_a_local_copy(tmp_path: Path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(PipelineError) as info:
        fetch_file(RemoteFile(NAME, "0" * 32), ["https://mirror.example/mnist"], tmp_path, 0, 1.0, "data.mirrors.mnist")
    message = str(info.value)
    assert "no network" in message and "data.mirrors.mnist=[/path/to/folder]" in message and "\n" not in message


def test_fetch_mnist_verifies_against_the_published_checksums(tmp_path: Path, server, params):
    data = dataclasses.replace(
        params.data, dataset="mnist", mirrors=dataclasses.replace(params.data.mirrors, mnist=(server.url,))
    )
    with pytest.raises(PipelineError, match=f"does not match the published {MNIST.train_images.md5}"):
        fetch(data, tmp_path / "raw")
    assert listing(tmp_path / "raw" / "mnist") == []


def test_a_checksum_mismatch_moves_on_to_the_next_mirror(tmp_path: Path, server):
    """A mirror with a corrupted copy is one bad mirror, as one that is down: the next may have the right file."""
    corrupted = tmp_path / "corrupted"
    corrupted.mkdir()
    (corrupted / NAME).write_bytes(b"not the published file")
    assert get(server, tmp_path / "data", published(server), mirrors=[str(corrupted), server.url]).is_file()
    assert server.requests[NAME] == 1


def test_when_every_mirror_fails_the_error_names_each_mirrors_reason(tmp_path: Path, server):
    corrupted = tmp_path / "corrupted"
    corrupted.mkdir()
    (corrupted / NAME).write_bytes(b"not the published file")
    server.faults[NAME] = "truncate"
    with pytest.raises(PipelineError) as info:
        get(server, tmp_path / "data", published(server), mirrors=[str(corrupted), server.url], retries=1)
    message = str(info.value)
    bad = hashlib.md5(b"not the published file").hexdigest()
    assert f"{(corrupted / NAME).as_uri()}: md5 {bad} does not match the published" in message
    assert f"{server.url}/{NAME}: transfer cut short" in message
    assert "\n" not in message and listing(tmp_path / "data") == []


def test_a_gzip_copy_with_a_flipped_byte_moves_on_to_the_next_mirror(tmp_path: Path, server):
    """Its md5 differs, and checking its content (as for a recompressed copy) fails inside zlib: still a mismatch."""
    good = server.files[NAME]
    flipped = bytearray(good)
    flipped[10] ^= 0xFF  # the first byte of the deflate stream: zlib.error, not a CRC failure
    corrupted = tmp_path / "corrupted"
    corrupted.mkdir()
    (corrupted / NAME).write_bytes(bytes(flipped))
    file = dataclasses.replace(published(server), content_md5=hashlib.md5(gzip.decompress(good)).hexdigest())
    assert get(server, tmp_path / "data", file, mirrors=[str(corrupted), server.url]).read_bytes() == good
