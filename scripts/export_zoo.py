"""Export a training snapshot's G_ema as a bundled zoo network (fp16 .safetensors).

    python scripts/export_zoo.py twemoji-32 zoo/twemoji-32/00001-.../network-snapshot-000240

writes src/stylegan/assets/zoo/twemoji-32.safetensors; the training command of each entry is
in src/stylegan/io/zoo.py (ZOO[name].command). Pass extra facts to record (kimg, CPU minutes,
FID) as key=value pairs after the snapshot.
"""

from __future__ import annotations

import sys

from stylegan.data.dataset import ImageDataset, sample_dataset_path
from stylegan.io.zoo import ZOO, export_zoo_network


def main(argv: list[str]) -> None:
    name, snapshot, *facts = argv
    names = ImageDataset(sample_dataset_path()).class_names() if ZOO[name].conditional else None
    info = dict(f.split("=", 1) for f in facts)
    path = export_zoo_network(snapshot, name, info=info, class_names=names)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
