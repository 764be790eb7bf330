import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from imgclf.data.archive import extract_archive
from imgclf.data.fetch import fetch
from imgclf.data.images import BadImage, decode, fit
from imgclf.data.preprocess import preprocess
from imgclf.data.shards import open_shards
from imgclf.data.split import split as split_stage
from imgclf.errors import PipelineError
from tests.helpers import REPO
from tests.helpers.data import photo, png_bomb
from tests.helpers.fileserver import serve

RED_BGR = (0, 0, 255)


def photos(root: Path) -> Path:
    """cats/dogs/panda in every supported format and depth, plus files that must be skipped or ignored."""
    photo(root / "cats" / "a.jpg")
    photo(root / "cats" / "b.JPEG", suffix=".jpg")
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 255, 128
    photo(root / "cats" / "c.png", image=rgba)
    photo(root / "dogs" / "a.bmp", color_bgr=(255, 0, 0))
    photo(root / "dogs" / "b.webp", color_bgr=(255, 0, 0))
    photo(root / "dogs" / "c.PNG", suffix=".png", image=np.full((16, 16), 40000, np.uint16))
    photo(root / "dogs" / "d.png", image=np.full((16, 16), 200, np.uint8))
    photo(root / "panda" / "a.jpg", color_bgr=(0, 255, 0))
    photo(root / "panda" / "b.jpg", color_bgr=(0, 255, 0))
    good = (root / "panda" / "a.jpg").read_bytes()
    (root / "panda" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "panda" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    (root / "panda" / "empty.jpg").write_bytes(b"")
    (root / "panda" / "text.jpg").write_text("not an image")
    (root / "panda" / "notes.txt").write_text("taken at the zoo")
    (root / "panda" / ".hidden.jpg").write_bytes(good)
    (root / ".DS_Store").write_bytes(b"\0\0")
    return root


@pytest.fixture
def folder_params(params):
    data = dataclasses.replace(params.data, dataset="folder", folder="photos")
    return data, dataclasses.replace(params.preprocess, image_size=32)


def run_folder(source: Path | str, folder_params, tmp_path: Path, **preprocess_changes):
    data, prep = folder_params
    data = dataclasses.replace(data, folder=str(source))
    prep = dataclasses.replace(prep, **preprocess_changes)
    fetch(data, tmp_path / "raw")
    preprocess(data, prep, tmp_path / "raw", tmp_path / "prepared")
    return open_shards(tmp_path / "prepared" / "train").load_all()


def test_folder_of_photos_is_decoded_to_rgb_and_bad_files_are_reported(tmp_path: Path, folder_params, capsys):
    data = run_folder(photos(tmp_path / "photos"), folder_params, tmp_path)
    progress = capsys.readouterr().err.splitlines()
    assert progress[0].startswith(f"{tmp_path / 'photos'}: listed 13 files in ")
    assert progress[1].startswith("decoded 13/13 images in ") and progress[1].endswith(" images/s)")
    assert data.class_names == ("cats", "dogs", "panda")
    assert np.bincount(data.labels).tolist() == [3, 4, 2]
    assert data.images.shape == (9, 32, 32, 3)
    cat = data.images[data.labels == 0][0]
    assert cat[16, 16, 0] > 200 and cat[16, 16, 2] < 50, "OpenCV's BGR must become RGB"
    dog_16bit = data.images[data.labels == 1][2]
    assert abs(int(dog_16bit[5, 5, 0]) - 40000 // 256) <= 1
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"truncated.jpg", "corrupt.png", "empty.jpg", "text.jpg", "notes.txt"}
    assert reasons["empty.jpg"] == "empty file" and "truncated" in reasons["truncated.jpg"]
    assert "not an image type" in reasons["notes.txt"]


def test_bad_file_can_stop_the_stage(tmp_path: Path, folder_params):
    with pytest.raises(PipelineError, match=r"panda/.*: .*; remove the file, or set preprocess.on_bad_image: skip"):
        run_folder(photos(tmp_path / "photos"), folder_params, tmp_path, on_bad_image="stop")


def test_grayscale_pad_and_tiny_sample(tmp_path: Path, folder_params):
    root = tmp_path / "photos"
    for name in ("a", "b", "c"):
        photo(root / "wide" / f"{name}.png", color_bgr=(255, 255, 255), size=(64, 32))
        photo(root / "tall" / f"{name}.png", color_bgr=(255, 255, 255), size=(32, 64))
    data = run_folder(root, folder_params, tmp_path, color="grayscale", resize="pad", max_per_class=2)
    assert data.images.shape == (4, 32, 32, 1)
    tall, wide = data.images[data.labels == 0][0, :, :, 0], data.images[data.labels == 1][0, :, :, 0]
    assert wide[0, 16] == 0 and wide[16, 16] == 255 and wide[16, 0] == 255
    assert tall[16, 0] == 0 and tall[0, 16] == 255


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"cats/a.jpg": True, "dogs/readme.txt": False}, r"dogs: no images"),
        ({"cats/a.jpg": True, "cats/b.jpg": True}, "only one class folder"),
        ({"a.jpg": True}, "no class folders"),
        ({"cats/a.jpg": False, "dogs/b.jpg": False}, r"no decodable images in class folder\(s\) \['cats', 'dogs'\]"),
    ],
)
def test_unusable_folders_are_clear_errors(tmp_path: Path, folder_params, layout, message):
    for name, is_photo in layout.items():
        path = tmp_path / "photos" / name
        if is_photo:
            photo(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")
    with pytest.raises(PipelineError, match=message):
        run_folder(tmp_path / "photos", folder_params, tmp_path)


def test_empty_image_size_is_refused_for_photos(tmp_path: Path, folder_params):
    with pytest.raises(PipelineError, match="preprocess.image_size = 0"):
        run_folder(photos(tmp_path / "photos"), folder_params, tmp_path, image_size=0)


def tree_with_official_test(root: Path) -> Path:
    for split, n in (("train", 3), ("test", 2)):
        for cls, color in (("cat", RED_BGR), ("dog", (255, 0, 0))):
            for i in range(n):
                photo(root / "pets" / split / cls / f"{i}.jpg", color_bgr=color)
    return root


def test_archives_and_urls_with_an_official_test_split(tmp_path: Path, folder_params):
    tree = tree_with_official_test(tmp_path / "tree")
    shutil.make_archive(str(tmp_path / "pets"), "zip", tree)
    shutil.make_archive(str(tmp_path / "pets"), "gztar", tree)
    for source in (tmp_path / "pets.zip", tmp_path / "pets.tar.gz"):
        run = tmp_path / f"run-{source.name}"
        train = run_folder(source, folder_params, run)
        test = open_shards(run / "prepared" / "test").load_all()
        assert (len(train), len(test)) == (6, 4) and test.class_names == ("cat", "dog")
    with serve() as server:
        server.files["pets.tar.gz"] = (tmp_path / "pets.tar.gz").read_bytes()
        train = run_folder(f"{server.url}/pets.tar.gz", folder_params, tmp_path / "url")
        assert len(train) == 6
        run_folder(f"{server.url}/pets.tar.gz", folder_params, tmp_path / "url")
        assert server.requests["pets.tar.gz"] == 1, "fetch runs on every repro; a URL it has unpacked is kept"
    assert sorted(p.name for p in (tmp_path / "url" / "raw").iterdir()) == ["folder", "folder.json"]


def test_a_url_that_fails_says_what_to_do_in_terms_that_work(tmp_path: Path, folder_params):
    """A 404 suggested -S 'data.folder=[/path/to/folder]', which params then refuse; a non-zip was named by its
    temporary download path."""
    with serve() as server:
        server.files["fake.zip"] = b"<html>not a zip</html>"
        with pytest.raises(PipelineError) as missing:
            run_folder(f"{server.url}/missing.zip", folder_params, tmp_path / "a")
        assert "-S 'data.folder=/path/to/photos'" in str(missing.value) and "[" not in str(missing.value)
        with pytest.raises(PipelineError, match=rf"^{server.url}/fake.zip: cannot unpack it \(File is not a zip"):
            run_folder(f"{server.url}/fake.zip", folder_params, tmp_path / "b")


def test_class_folders_that_look_hidden_are_listed_not_silently_dropped(tmp_path: Path, folder_params):
    root = photos(tmp_path / "photos")
    photo(root / "..." / "a.jpg")
    photo(root / "..a" / "a.jpg")
    run_folder(root, folder_params, tmp_path)
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["..."] == reasons["..a"] == "a folder whose name starts with '.', hidden: not read as a class"


def test_every_entry_the_reader_leaves_out_is_listed_with_why(tmp_path: Path, folder_params):
    root = photos(tmp_path / "photos")
    cats = root / "cats"
    (cats / "loop1.jpg").symlink_to("loop2.jpg")
    (cats / "loop2.jpg").symlink_to("loop1.jpg")
    (cats / "gone.jpg").symlink_to("nowhere.jpg")
    os.mkfifo(cats / "pipe.jpg")
    (cats / "x.jpg").mkdir()
    photo(tmp_path / "elsewhere" / "a.jpg")
    (cats / "more").symlink_to(tmp_path / "elsewhere")
    (cats / "anim.gif").write_bytes(b"GIF89a")
    (root / "README.txt").write_text("three classes")
    run_folder(root, folder_params, tmp_path)
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["loop1.jpg"] == reasons["loop2.jpg"] == "a link in a loop: it never reaches a file"
    assert reasons["gone.jpg"] == "a link to nothing (nowhere.jpg does not exist)"
    assert reasons["pipe.jpg"] == "not a regular file: a FIFO (named pipe)"
    assert reasons["x.jpg"] == "a folder named like an image: read as a folder, its images (if any) kept"
    assert reasons["more"] == "a link to a folder: not followed"
    assert reasons["anim.gif"] == "not an image type (.gif)"
    assert reasons["README.txt"] == "beside the class folders, in none: not read"


def test_a_url_whose_archive_changed_is_downloaded_again_and_an_unreachable_one_keeps_its_copy(
    tmp_path: Path, folder_params, capsys
):
    """fetch runs on every repro; it asks the server (a HEAD request) whether the archive changed since."""
    tree = tree_with_official_test(tmp_path / "tree")
    with serve() as server:
        server.files["pets.tar.gz"] = Path(shutil.make_archive(str(tmp_path / "v1"), "gztar", tree)).read_bytes()
        url = f"{server.url}/pets.tar.gz"
        assert len(run_folder(url, folder_params, tmp_path)) == 6
        photo(tree / "pets" / "train" / "cat" / "new.jpg")
        server.files["pets.tar.gz"] = Path(shutil.make_archive(str(tmp_path / "v2"), "gztar", tree)).read_bytes()
        assert len(run_folder(url, folder_params, tmp_path)) == 7, "same URL, new content: downloaded again"
        assert len(run_folder(url, folder_params, tmp_path)) == 7
        assert server.requests["pets.tar.gz"] == 2, "unchanged: not downloaded again"
        server.validators = False
        capsys.readouterr()
        assert len(run_folder(url, folder_params, tmp_path)) == 7
        assert server.requests["pets.tar.gz"] == 3, "a server that cannot say whether it changed: downloaded again"
        assert f"{url}: the server sends no ETag or Last-Modified" in capsys.readouterr().out
        server.refuse_head = True
        assert len(run_folder(url, folder_params, tmp_path)) == 7
        assert server.requests["pets.tar.gz"] == 4
        assert f"{url}: the server refused a HEAD request (HTTP 405" in capsys.readouterr().out
    capsys.readouterr()
    assert len(run_folder(url, folder_params, tmp_path)) == 7, "offline: the copy unpacked before is kept"
    assert f"{url}: cannot check for a newer archive (" in capsys.readouterr().out


def test_a_changed_archive_is_unpacked_again_and_a_local_folder_replaces_the_copy(tmp_path: Path, folder_params):
    tree = tree_with_official_test(tmp_path / "tree")
    archive = Path(shutil.make_archive(str(tmp_path / "pets"), "zip", tree))
    assert len(run_folder(archive, folder_params, tmp_path)) == 6
    photo(tree / "pets" / "train" / "cat" / "new.jpg")
    shutil.make_archive(str(tmp_path / "pets"), "zip", tree)
    assert len(run_folder(archive, folder_params, tmp_path)) == 7, "same path, other bytes: unpacked again"
    assert len(run_folder(tree, folder_params, tmp_path)) == 7
    assert not (tmp_path / "raw" / "folder").exists(), "a local folder is read in place: no copy is kept"


def test_a_local_folder_is_read_in_place_and_must_not_change_before_preprocess(tmp_path: Path, folder_params):
    data, prep = folder_params
    data = dataclasses.replace(data, folder=str(photos(tmp_path / "photos")))
    fetch(data, tmp_path / "raw")
    record = json.loads((tmp_path / "raw" / "folder.json").read_text())
    assert record["folder"] == str(tmp_path / "photos")
    listed = {name: (size, md5) for name, size, md5 in record["files"]}
    assert "panda/notes.txt" in listed and "panda/.hidden.jpg" not in listed and ".DS_Store" not in listed
    assert listed["cats/a.jpg"][1] == hashlib.md5((tmp_path / "photos" / "cats" / "a.jpg").read_bytes()).hexdigest()
    photo(tmp_path / "photos" / "cats" / "late.jpg")
    with pytest.raises(PipelineError, match=r"photos: changed since fetch listed it \(e.g. cats/late.jpg\); run"):
        preprocess(data, prep, tmp_path / "raw", tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists()


def test_archive_entries_outside_the_target_are_refused(tmp_path: Path):
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as zf:
        zf.writestr("cats/a.jpg", b"x")
        zf.writestr("../../escaped.jpg", b"x")
    with pytest.raises(PipelineError, match=r"evil.zip: refusing unsafe entry '../../escaped.jpg'"):
        extract_archive(evil_zip, tmp_path / "out" / "zip", max_bytes=1 << 30)

    for name, make in (
        ("absolute", lambda tar: _add(tar, tarfile.TarInfo("/tmp/escaped.jpg"))),
        ("dotdot", lambda tar: _add(tar, tarfile.TarInfo("cats/../../escaped.jpg"))),
        ("symlink", lambda tar: _add(tar, _link("cats/link", "../../../etc/passwd"))),
    ):
        archive = tmp_path / f"{name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            make(tar)
        with pytest.raises(PipelineError, match=f"{name}.tar.gz: refusing unsafe entry"):
            extract_archive(archive, tmp_path / "out" / name, max_bytes=1 << 30)
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "out" / "escaped.jpg").exists()


def test_an_archive_that_unpacks_too_large_is_refused_naming_the_entry(tmp_path: Path):
    """A 2 MB zip holding a 2 GiB zero-filled entry unpacked in full (twice: data/raw and DVC's cache)."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cats/a.jpg", b"x")
        zf.writestr("cats/zeros.jpg", bytes(80 << 20))  # 80 MB in about 80 KB
    with pytest.raises(PipelineError, match=r"bomb.zip: refusing entry 'cats/zeros.jpg': 80 MB from 0.08 MB"):
        extract_archive(bomb, tmp_path / "out" / "bomb", max_bytes=10 << 30)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w") as zf:
        for i in range(3):
            zf.writestr(f"cats/{i}.jpg", os.urandom(600))
    with pytest.raises(PipelineError, match=r"big.zip: entry 'cats/1.jpg' takes it past data.max_unpacked_gb"):
        extract_archive(big, tmp_path / "out" / "big", max_bytes=1000)
    with tarfile.open(tmp_path / "big.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "big.zip", "cats/big.zip")
        tar.add(tmp_path / "bomb.zip", "cats/bomb.zip")
    with pytest.raises(PipelineError, match=r"big.tar.gz: entry 'cats/bomb.zip' takes it past data.max_unpacked_gb"):
        extract_archive(tmp_path / "big.tar.gz", tmp_path / "out" / "tar", max_bytes=big.stat().st_size + 1000)
    assert not list((tmp_path / "out").rglob("*.jpg")), "nothing unpacked"


def _add(tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
    info.size = 1 if info.type == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(b"x") if info.size else None)


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def test_decode_and_fit_handle_every_depth_and_channel_count(tmp_path: Path):
    assert decode(photo(tmp_path / "gray.png", image=np.full((8, 8), 90, np.uint8))).shape == (8, 8)
    assert decode(photo(tmp_path / "deep.png", image=np.full((8, 8, 3), 65535, np.uint16)))[0, 0].tolist() == [255] * 3
    assert fit(np.zeros((10, 20), np.uint8), 8, "stretch", "rgb").shape == (8, 8, 3)
    assert fit(np.zeros((10, 20, 3), np.uint8), 8, "pad", "grayscale").shape == (8, 8, 1)


def test_an_image_over_opencvs_pixel_limit_is_skipped_and_named(tmp_path: Path, folder_params):
    """A panorama or a decompression bomb: skipped like any bad image, without allocating its 2.5 GB."""
    root = photos(tmp_path / "photos")
    png_bomb(root / "panda" / "bomb.png")
    data = run_folder(root, folder_params, tmp_path)
    assert np.bincount(data.labels).tolist() == [3, 4, 2]
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["bomb.png"] == "50000 x 50000 pixels (2,500 megapixels), over the 100 allowed (max_megapixels)"
    with pytest.raises(BadImage, match="too large to decode"):
        decode(root / "panda" / "bomb.png")
    png_bomb(root / "panda" / "big.png", side=2000)  # 4 megapixels, under OpenCV's limit
    run_folder(root, folder_params, tmp_path, max_megapixels=3.9)
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert reasons["big.png"] == "2000 x 2000 pixels (4 megapixels), over the 3.9 allowed (max_megapixels)"


def split_tree(root: Path, splits: dict[str, int]) -> Path:
    """root/<split>/{cat,dog}/<n>.jpg for each split folder name and image count."""
    for split, n in splits.items():
        for cls, color in (("cat", RED_BGR), ("dog", (255, 0, 0))):
            for i in range(n):
                photo(root / split / cls / f"{i}.jpg", color_bgr=color)
    return root


def test_a_shipped_validation_folder_is_validation_not_a_class(tmp_path: Path, folder_params, params):
    """root/train/<class> beside root/Valid/<class>: the classes are cat and dog, Valid/ is the validation set."""
    train = run_folder(split_tree(tmp_path / "photos", {"train": 4, "Valid": 2}), folder_params, tmp_path)
    assert train.class_names == ("cat", "dog") and len(train) == 8
    shipped = open_shards(tmp_path / "prepared" / "val").load_all()
    splits = split_stage(params.split, tmp_path / "prepared")
    assert np.array_equal(splits["val"].indices, np.arange(4)) and splits["val"].source.root.name == "val"
    assert np.array_equal(splits["val"].labels, shipped.labels), "the shipped validation set, not a carved one"
    assert len(splits["train"].labels) + len(splits["test"].labels) == 8


def test_train_test_and_val_folders_are_all_kept(tmp_path: Path, folder_params, params):
    run_folder(split_tree(tmp_path / "photos", {"train": 4, "test": 3, "validation": 2}), folder_params, tmp_path)
    splits = split_stage(params.split, tmp_path / "prepared")
    assert {name: len(part.labels) for name, part in splits.items()} == {"train": 8, "val": 4, "test": 6}


@pytest.mark.parametrize(
    ("splits", "found"),
    [
        ({"train": 2, "cats": 2}, "split folders train beside other folders cats"),
        ({"val": 2, "test": 2}, "split folders test, val but no train folder"),
        ({"train": 2, "val": 2, "valid": 2}, "two validation folders: val, valid"),
    ],
)
def test_a_layout_it_cannot_read_is_named_never_taken_as_classes(tmp_path: Path, folder_params, splits, found):
    with pytest.raises(PipelineError, match=found):
        run_folder(split_tree(tmp_path / "photos", splits), folder_params, tmp_path)


def test_a_relative_folder_means_the_same_folder_in_a_queued_experiment(tmp_path: Path, folder_params, monkeypatch):
    """A queued experiment runs in a temporary copy of the project (.dvc/tmp/exps/...); DVC names the project in
    DVC_ROOT, and a relative data.folder is relative to it, as in the workspace."""
    photos(tmp_path / "project" / "photos")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "project"))
    (tmp_path / "copy").mkdir()
    monkeypatch.chdir(tmp_path / "copy")
    data = run_folder("photos", folder_params, tmp_path / "copy")
    assert data.class_names == ("cats", "dogs", "panda")


def test_decoding_workers_do_not_hang_after_the_caller_used_opencvs_threads(tmp_path: Path):
    """A forked worker that changed the OpenCV thread pool inherited from a parent that had used it hung for good
    (a benchmark or a notebook that blurs an image, then loads a folder). In a child process, to time out."""
    photos(tmp_path / "photos")
    code = (
        "import sys, cv2, numpy as np\n"
        "from pathlib import Path\n"
        "from imgclf.data.folder import list_images, load_images\n"
        "files, _ = list_images(Path(sys.argv[1]))\n"
        "for _ in range(5):  # the hang depends on the timing of the parent's threads: try a few times\n"
        "    cv2.GaussianBlur(np.zeros((1200, 1600, 3), np.uint8), (0, 0), 3)\n"
        "    print(len(load_images(files, 16, 'stretch', 'rgb', False, 0, workers=2)[0]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        result = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "photos")], env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("decoding workers hung")
    assert result.stdout == "9\n" * 5, result.stderr


def running(pid: int) -> bool:
    """Alive, not a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_decoding_workers_die_with_a_killed_parent(tmp_path: Path):
    """SIGKILL preprocess while it decodes: its workers went on under PID 1 (one pair still ran after 30 minutes)."""
    photos(tmp_path / "photos")
    code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "import imgclf.data.folder as folder\n"
        "def slow(path, *args):  # each worker names itself, then decodes for a minute\n"
        "    Path(sys.argv[2], str(os.getpid())).touch()\n"
        "    time.sleep(60)\n"
        "folder.decode = slow\n"
        "files, _ = folder.list_images(Path(sys.argv[1]))\n"
        "folder.load_images(files, 16, 'stretch', 'rgb', False, 0, workers=2)\n"
    )
    (tmp_path / "pids").mkdir()
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "photos"), str(tmp_path / "pids")],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 30
    while len(list((tmp_path / "pids").iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.name) for p in (tmp_path / "pids").iterdir()]
    assert len(workers) == 2, "both workers started"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in workers if running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "workers outlived their parent"


def test_photos_whose_names_are_not_utf8_are_decoded_and_named_escaped(tmp_path: Path, folder_params, capsys):
    """Such a name crashed a decoding worker (BrokenProcessPool, no file named)."""
    root = tmp_path / "photos"
    photo(root / "cats" / "a.jpg")
    photo(root / "dogs" / "a.jpg", color_bgr=(255, 0, 0))
    photo(root / "cats" / os.fsdecode(b"bad\xff name.png"))
    (root / "dogs" / os.fsdecode(b"broken\xfe.jpg")).write_bytes(b"not an image")
    data = run_folder(root, folder_params, tmp_path)
    assert np.bincount(data.labels).tolist() == [2, 1]
    assert f"skipped {root / 'dogs'}/broken\\xfe.jpg: not a decodable image" in capsys.readouterr().out
    report = json.loads((tmp_path / "prepared" / "report.json").read_text())
    assert [s["path"] for s in report["skipped"]] == [f"{root / 'dogs'}/broken\\xfe.jpg"]
