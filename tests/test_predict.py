import codecs
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgclf.cli import COMMAND, exit_on_error
from imgclf.command import SUBCOMMANDS
from imgclf.command import main as command_main
from imgclf.config.params import load_params
from imgclf.errors import PipelineError
from imgclf.fitting.train import train
from imgclf.modeling.model_file import save_model
from imgclf.serving.annotate import annotate
from imgclf.serving.predict import as_csv, as_table, image_files, load_for_model, predict, predict_files
from imgclf.serving.predict import main as predict_main
from tests.helpers import REPO
from tests.helpers.data import png_bomb, quick_mlp, train_val


def quadrant_image(path: Path, quadrant: int, side: int = 40) -> Path:
    """A photo-like file of the blobs() classes: a bright square in one quadrant, at a bigger size."""
    image = np.full((side, side, 3), 20, np.uint8)
    half = side // 2
    image[
        (quadrant % 2) * half : (quadrant % 2) * half + half, (quadrant // 2) * half : (quadrant // 2) * half + half
    ] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(path.suffix, image)[1].tobytes())  # imwrite would crash on a name not in UTF-8
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small trained model of 8 x 8 gray images in 3 classes, saved as the train stage saves it."""
    params = quick_mlp(load_params(REPO / "params.yaml").train, epochs=15)
    folder = tmp_path_factory.mktemp("model")
    model, _ = train(params, *train_val(folder), folder / "live", folder / "backup")
    save_model(model, ("top_left", "bottom_left", "top_right"), folder)
    return folder


def test_predict_uses_the_models_own_size_and_channels(tmp_path: Path, model_dir):
    from imgclf.modeling.model_file import load_model

    files = [quadrant_image(tmp_path / f"{q}.png", q) for q in range(3)]
    model, class_names = load_model(model_dir)
    predictions = predict(model, class_names, files, top_k=2, resize="stretch")
    assert [p[0][0] for p in predictions] == ["top_left", "bottom_left", "top_right"]
    assert all(len(p) == 2 and p[0][1] >= p[1][1] for p in predictions)
    lines = as_csv(files, predictions).splitlines()
    assert lines[0] == "path,rank,label,probability" and len(lines) == 1 + 3 * 2
    table = as_table(files, predictions).splitlines()
    assert table[0].split() == ["image", "top", "1", "top", "2"]
    assert table[1].startswith(str(files[0])) and "top_left" in table[1] and len(table) == 4
    assert table[0].index("top 1") == table[1].index(predictions[0][0][0])  # the columns line up
    written = annotate(files[0], predictions[0], tmp_path / "annotated" / "0.png.png")
    assert cv2.imread(str(written)).shape[1] == 400


def test_the_annotated_label_sits_on_a_dark_box_readable_on_a_white_photo(tmp_path: Path):
    """Green text straight on a light photo could hardly be read."""
    white = tmp_path / "white.png"
    cv2.imwrite(str(white), np.full((300, 400, 3), 255, np.uint8))
    written = cv2.imread(str(annotate(white, [("bee", 0.9123)], tmp_path / "out" / "white.png.png")))
    box = written[8:38, 6:60]  # behind the start of the text
    assert np.mean(box.max(axis=2) < 60) > 0.5, "mostly dark behind the label"
    assert (box[:, :, 1] > 150).any(), "green text on it"
    assert (written[100:, :] == 255).all(), "the rest of the photo untouched"


def test_a_folder_is_predicted_a_chunk_at_a_time_with_the_same_results(tmp_path: Path, model_dir):
    """Chunks of 2 across 7 files, one of them unreadable: the same labels, in order, as all at once."""
    from imgclf.modeling.model_file import load_model

    files = [quadrant_image(tmp_path / f"{i}.png", i % 3) for i in range(6)]
    files.insert(3, tmp_path / "empty.png")
    files[3].write_bytes(b"")
    model, class_names = load_model(model_dir)
    whole = predict_files(model, class_names, files, 1, "stretch", strict=False, at_a_time=100)
    chunked = predict_files(model, class_names, files, 1, "stretch", strict=False, at_a_time=2)
    assert chunked[0] == whole[0] == [f for f in files if f.name != "empty.png"]
    assert [p[0][0] for p in chunked[1]] == [p[0][0] for p in whole[1]] == ["top_left", "bottom_left", "top_right"] * 2
    assert len(chunked[2]) == 1 and "empty.png" in chunked[2][0]


def test_folders_are_expanded_and_bad_inputs_named(tmp_path: Path):
    quadrant_image(tmp_path / "in" / "a.JPG", 0)
    (tmp_path / "in" / ".hidden.png").write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("x")
    files, unused = image_files([tmp_path / "in"])
    assert [p.name for p in files] == ["a.JPG"] and unused == [
        f"{tmp_path / 'in' / 'notes.txt'}: not an image type (.txt)"
    ]
    with pytest.raises(PipelineError, match="missing.jpg: no such file or folder"):
        image_files([tmp_path / "missing.jpg"])


def test_the_files_of_a_folder_predict_does_not_read_are_listed_with_why(tmp_path: Path):
    quadrant_image(tmp_path / "in" / "a.png", 0)
    for name in ("b.gif", "c.heic", "d.avif", "e.tif"):
        (tmp_path / "in" / name).write_bytes(b"\0" * 16)
    os.mkfifo(tmp_path / "in" / "f.jpg")
    files, unused = image_files([tmp_path / "in"])
    assert [p.name for p in files] == ["a.png"]
    assert unused == [
        *(
            f"{tmp_path / 'in' / name}: not an image type ({name[1:]})"
            for name in ("b.gif", "c.heic", "d.avif", "e.tif")
        ),
        f"{tmp_path / 'in' / 'f.jpg'}: not a regular file: a FIFO (named pipe)",
    ]


def test_every_file_name_in_the_csv_and_table_is_one_line_that_leads_back_to_the_file(tmp_path: Path):
    names = [
        b"two\nlines.jpg",
        b"tab\tand\rreturn.png",
        b"not utf8 \xff.png",
        b"back\\xff slash.png",
        "猫.jpg".encode(),
    ]
    files = [tmp_path / os.fsdecode(name) for name in names]
    for path in files:
        path.write_bytes(b"")
    predictions = [[("cat", 0.75), ("dog", 0.25)]] * len(files)
    rows = list(csv.reader(io.StringIO(as_csv(files, predictions))))[1:]
    shown = [row[0] for row in rows[::2]]
    assert len(rows) == 2 * len(files) and all("\n" not in name and "\r" not in name for name in shown)
    assert [Path(os.fsdecode(codecs.escape_decode(name.encode())[0])) for name in shown] == files, "the stated escape"
    table = as_table(files, predictions).splitlines()
    assert len(table) == 1 + len(files) and table[1].split("  ")[0] == f"{tmp_path}/two\\nlines.jpg"
    assert table[4].split("  ")[0] == f"{tmp_path}/back\\\\xff slash.png", "a backslash of the name is escaped too"


def test_a_csv_on_a_full_disk_is_one_line_naming_it_and_leaves_nothing(
    tmp_path: Path, model_dir, small_disk: Path, monkeypatch
):
    for i in range(150):  # 450 rows: more than the 16 KB free
        quadrant_image(tmp_path / "in" / f"{i:03d}.png", i % 3)
    csv_path = small_disk / "predictions.csv"
    argv = ["predict", "--model", str(model_dir), str(tmp_path / "in"), "--csv", str(csv_path)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as stopped:
        exit_on_error(predict_main, rerun=COMMAND)
    assert stopped.value.code == (
        f"error: the disk is full (writing {csv_path}); nothing half-written is kept: free some space (df -h shows "
        "where), then run the command again"
    )
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "no partial CSV, no temporary"


def test_command_line_table_csv_and_unreadable_image(tmp_path: Path, model_dir):
    good = quadrant_image(tmp_path / "good.png", 2)
    command = [sys.executable, "-m", "imgclf.serving.predict", "--model", str(model_dir), str(good)]
    result = subprocess.run([*command, "--csv", str(tmp_path / "out.csv")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.csv").read_text().splitlines()[1].startswith(f"{good},1,top_right,")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    result = subprocess.run(
        [*command, str(tmp_path / "broken.jpg"), "--strict"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()  # TensorFlow may print its own start-up notes first
    assert "Traceback" not in result.stderr and [line for line in lines if line.startswith("error:")] == lines[-1:]
    assert lines[-1] == (
        f"error: {tmp_path / 'broken.jpg'}: cannot read it as an image (not a decodable image (corrupt or truncated))"
    )


def test_an_image_over_opencvs_pixel_limit_is_named_not_a_traceback(tmp_path: Path):
    bomb = png_bomb(tmp_path / "bomb.png")
    with pytest.raises(PipelineError, match=r"bomb.png: cannot read it as an image \(too large to decode"):
        load_for_model(bomb, (32, 32, 3), "stretch", 0)


def run_predict(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "imgclf.serving.predict", *map(str, args)], cwd=REPO, capture_output=True, text=True
    )


@pytest.mark.slow  # a train or predict process of its own
def test_good_images_are_predicted_and_bad_ones_listed_or_strict(tmp_path: Path, model_dir):
    """A folder of photos with one empty file: every other photo is predicted, the empty one is named."""
    for i in range(3):
        quadrant_image(tmp_path / "in" / f"{i}.png", i)
    (tmp_path / "in" / "empty.jpg").write_bytes(b"")
    quadrant_image(tmp_path / "in" / os.fsdecode(b"z\xff.png"), 0)  # not UTF-8: OpenCV's imread crashed on it
    (tmp_path / "in" / "anim.gif").write_bytes(b"GIF89a")
    result = run_predict("--model", model_dir, tmp_path / "in", "--csv", tmp_path / "out.csv")
    assert result.returncode == 0, result.stderr
    rows = (tmp_path / "out.csv").read_text().splitlines()[1:]
    names = [*(str(tmp_path / "in" / f"{i}.png") for i in range(3)), f"{tmp_path / 'in'}/z\\xff.png"]
    assert sorted({row.split(",")[0] for row in rows}) == names
    assert f"skipped {tmp_path / 'in' / 'empty.jpg'}: cannot read it as an image (empty file)" in result.stderr
    assert f"skipped {tmp_path / 'in' / 'anim.gif'}: not an image type (.gif)" in result.stderr
    assert "read 5/5 files" in result.stderr and "2 of 6 files skipped" in result.stderr, "never 'predicted 5/5'"
    strict = run_predict("--model", model_dir, tmp_path / "in", "--strict")
    assert strict.returncode == 1
    assert (
        strict.stderr.splitlines()[-1]
        == f"error: {tmp_path / 'in' / 'empty.jpg'}: cannot read it as an image (empty file)"
    )


def test_annotated_images_never_overwrite_an_input_or_each_other(tmp_path: Path, model_dir):
    a_jpg = quadrant_image(tmp_path / "in" / "a" / "x.jpg", 0)
    a_png = quadrant_image(tmp_path / "in" / "a" / "x.png", 1)
    b_jpg = quadrant_image(tmp_path / "in" / "b" / "x.jpg", 2)
    originals = {path: path.read_bytes() for path in (a_jpg, a_png, b_jpg)}
    result = run_predict("--model", model_dir, tmp_path / "in", "--annotate", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert all(path.read_bytes() == data for path, data in originals.items()), "the photos are untouched"
    written = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.png"))
    assert [str(p) for p in written] == ["a/x.jpg.png", "a/x.png.png", "b/x.jpg.png"], "one output per input"


@pytest.mark.parametrize("where", ["in", "in/a", "in/new", "single"])
def test_annotating_into_the_images_own_folder_is_refused(tmp_path: Path, model_dir, where: str):
    """Annotated copies beside the photos would be trained on by the next `dvc repro` of that folder."""
    photo = quadrant_image(tmp_path / "in" / "a" / "x.jpg", 0)
    inputs = [photo] if where == "single" else [tmp_path / "in"]
    target = tmp_path / "in" / "a" if where == "single" else tmp_path / where
    result = run_predict("--model", model_dir, *inputs, "--annotate", target)
    assert result.returncode == 1 and "a folder of your images" in result.stderr.splitlines()[-1]
    assert sorted(p.name for p in (tmp_path / "in").rglob("*")) == ["a", "x.jpg"], "nothing written"


def test_annotate_into_a_file_and_csv_onto_a_photo_are_one_line_refusals(tmp_path: Path, model_dir):
    photos = [quadrant_image(tmp_path / "in" / f"{i}.jpg", i) for i in range(2)]
    before = [photo.read_bytes() for photo in photos]
    (tmp_path / "notes.txt").write_text("mine")
    cases = {
        ("--annotate", tmp_path / "notes.txt"): "is a file; name a folder for the annotated images",
        ("--csv", photos[0]): "that is one of the images to predict; name a new .csv file",  # predict --csv *.jpg
        ("--csv", tmp_path / "notes.txt"): "exists and is not a CSV predict wrote; name a new file",
    }
    for args, message in cases.items():
        result = run_predict("--model", model_dir, *photos, *args)
        assert result.returncode == 1 and result.stderr.splitlines()[-1].endswith(message), result.stderr
    assert [photo.read_bytes() for photo in photos] == before and (tmp_path / "notes.txt").read_text() == "mine"
    assert run_predict("--model", model_dir, *photos, "--csv", tmp_path / "p.csv").returncode == 0
    assert run_predict("--model", model_dir, *photos, "--csv", tmp_path / "p.csv").returncode == 0, "its own CSV"


@pytest.mark.slow  # a train or predict process of its own
def test_the_installed_command_predicts_outside_the_checkout(tmp_path: Path, model_dir):
    """`pip install .` failed (flat layout), and outside the checkout predict said "No module named 'imgclf'"."""
    source = tmp_path / "source"  # a copy: setuptools builds in the source folder
    shutil.copytree(REPO / "imgclf", source / "imgclf", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(REPO / name, source / name)
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*install, "--target", str(tmp_path / "site"), str(source)], check=True, capture_output=True)
    photo = quadrant_image(tmp_path / "photos" / "a.png", 2)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    command = [sys.executable, str(tmp_path / "site" / "bin" / "imgclf"), "predict", "--model", str(model_dir)]
    result = subprocess.run([*command, str(photo)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[:2] == [str(photo), "top_right"]  # under the header


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_every_subcommand_shows_its_options_under_its_own_name(name: str, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["imgclf", name, "--help"])
    with pytest.raises(SystemExit) as done:
        command_main()
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: imgclf {name} ")


def test_a_url_is_told_it_is_not_read():
    with pytest.raises(PipelineError) as refused:
        image_files([Path("https://upload.example.org/cat.jpg")])  # as argparse's Path makes it: one slash
    assert str(refused.value) == (
        "https://upload.example.org/cat.jpg: URLs are not read; download the image first, then give its file"
    )
