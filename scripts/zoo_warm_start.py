"""Continue training a zoo network from its bundled weights (when the training snapshots are gone).

    python scripts/zoo_warm_start.py twemoji-32 OUT_DIR
    stylegan train --cfg small --cond 0 --seed 0 --kimg 100000 --minutes 110 --workers 0 \\
        --outdir zoo/twemoji-32 --resume OUT_DIR --networks-only

The bundled file holds ``G_ema`` alone (fp16), so OUT_DIR gets it as both ``G`` and ``G_ema``
(widened to fp32) with a fresh discriminator of the zoo recipe, seeded by the entry's seed + 100;
``--networks-only`` then fine-tunes from it with fresh optimisers (and ADA's faster start, as
NVIDIA's train.py does when it resumes a pickle). The discriminator needs a few kimg to catch up.
"""

from __future__ import annotations

import copy
import sys

import torch

from stylegan.io.checkpoint import load_checkpoint, save_checkpoint
from stylegan.io.zoo import ZOO
from stylegan.training.presets import make_config
from stylegan.training.state import build_networks


def main(argv: list[str]) -> None:
    name, out = argv
    entry = ZOO[name]
    ckpt = load_checkpoint(entry.file, training_state=False)
    G = ckpt.networks["G_ema"].float()
    options = ckpt.metadata["training_options"]
    config = make_config(
        options["preset"], cond=entry.conditional, random_seed=options["random_seed"]
    )
    torch.manual_seed(options["random_seed"] + 100)
    _, D = build_networks(config, G.img_resolution, G.img_channels, G.c_dim)
    networks = {"G": copy.deepcopy(G).train(), "D": D, "G_ema": G}
    print(f"wrote {save_checkpoint(out, networks, metadata=ckpt.metadata)}")


if __name__ == "__main__":
    main(sys.argv[1:])
