"""Average power spectra of real and generated images, as in the StyleGAN3 paper's Figure 2.

:func:`average_spectrum` follows NVIDIA's ``avg_spectra.py calc``: every image (uint8 values,
``[C, H, W]``) is whitened with a dataset mean and standard deviation (scalars over all pixels
and channels), multiplied by a separable Kaiser window (``beta = 8``, normalised to unit
energy), zero-padded to ``interp`` times its size (finer frequency sampling) and transformed;
the power ``|FFT|^2`` is averaged over channels and images. In dB (``10 log10``), white noise of
the dataset's variance sits at 0 dB everywhere.

Without an explicit mean and std, the images' own are used. They are found in the same single
pass: the FFT is linear, so ``E|F(w (x - mu))|^2`` follows exactly from the running sums of
``F(w x)`` and ``|F(w x)|^2`` once ``mu`` is known.

:func:`spectrum_figure` draws the 2-D spectra (as ``avg_spectra.py heatmap``: fftshifted dB,
5 dB contour bands from -40 to 20 dB in blues) side by side and their radially averaged 1-D
profiles overlaid, with axes and a legend, using PIL only. :func:`compare_spectra` does it all
for generators and a dataset, whitening every spectrum with the real images' statistics.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from stylegan.errors import StyleGANError

# ---- computing spectra ---------------------------------------------------------------------------


@dataclasses.dataclass
class Spectrum:
    """A mean power spectrum: ``power [S, S]`` (DC at ``[0, 0]``, ``S = image_size * interp``),
    of ``num_images`` images whitened with ``mean`` and ``std``."""

    power: np.ndarray
    image_size: int
    num_images: int
    mean: float
    std: float

    @property
    def interp(self) -> int:
        return self.power.shape[0] // self.image_size

    def heatmap_db(self, smooth: float = 0.0) -> np.ndarray:
        """dB, fftshifted (DC in the middle), ``[S + 1, S + 1]`` from -Nyquist to +Nyquist
        inclusive (the first row and column repeated at the end), optionally smoothed by a
        Gaussian of ``smooth`` image-frequency bins, as ``avg_spectra.construct_heatmap``."""
        hmap = np.fft.fftshift(_db(self.power))
        hmap = np.concatenate([hmap, hmap[:1, :]], axis=0)
        hmap = np.concatenate([hmap, hmap[:, :1]], axis=1)
        if smooth > 0:
            hmap = gaussian_blur(hmap, sigma=self.interp * smooth)
        return hmap

    def radial_profile(self) -> tuple[np.ndarray, np.ndarray]:
        """``(freqs, db)``: power averaged over rings of radius ``freqs`` (cycles per image,
        ``0, 1/interp, ..., image_size / 2``) and then converted to dB."""
        size = self.power.shape[0]
        k = np.fft.fftfreq(size, d=1 / size)  # integer bin offsets
        radius = np.rint(np.hypot(k[:, None], k[None, :])).astype(np.int64)
        nbins = size // 2 + 1
        inside = radius < nbins
        sums = np.bincount(radius[inside], weights=self.power[inside], minlength=nbins)
        counts = np.bincount(radius[inside], minlength=nbins)
        freqs = np.arange(nbins) / self.interp
        return freqs, _db(sums / np.maximum(counts, 1))

    def save(self, path: str | Path) -> Path:
        """An ``.npz`` with ``spectrum`` and ``image_size`` as ``avg_spectra.py calc`` writes."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            spectrum=self.power,
            image_size=self.image_size,
            num_images=self.num_images,
            mean=self.mean,
            std=self.std,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Spectrum:
        """Read :meth:`save`'s files and NVIDIA's (which lack the count and statistics)."""
        with np.load(path, allow_pickle=False) as data:  # object arrays would need a pickle

            def get(key, default):
                return data[key].item() if key in data.files else default

            return cls(
                power=np.asarray(data["spectrum"], dtype=np.float64),
                image_size=int(data["image_size"]),
                num_images=int(get("num_images", 0)),
                mean=float(get("mean", math.nan)),
                std=float(get("std", math.nan)),
            )


def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(power, 1e-30))


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array, edges extended (``mode='nearest'``)."""
    radius = max(1, int(4 * sigma + 0.5))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        pad = [(radius, radius) if a == axis else (0, 0) for a in (0, 1)]
        padded = np.pad(x, pad, mode="edge")
        x = np.apply_along_axis(lambda v: np.convolve(v, taps, mode="valid"), axis, padded)
    return x


def kaiser_window_2d(size: int, beta: float = 8.0, device=None) -> torch.Tensor:
    """The separable Kaiser window ``[size, size]`` of unit energy, as ``avg_spectra.py``."""
    window = torch.kaiser_window(
        size, periodic=False, beta=beta, dtype=torch.float64, device=device
    )
    window = window * window.square().sum().rsqrt()
    return torch.outer(window, window)


def _as_batches(images) -> Iterable[torch.Tensor]:
    if isinstance(images, (torch.Tensor, np.ndarray)):
        images = [images]
    for batch in images:
        batch = torch.as_tensor(np.asarray(batch) if not isinstance(batch, torch.Tensor) else batch)
        if batch.ndim == 3:
            batch = batch[None]
        if batch.ndim != 4:
            raise StyleGANError(
                f"expected images [N, C, H, W] or [C, H, W], got {list(batch.shape)}"
            )
        yield batch


@torch.no_grad()
def average_spectrum(
    images: Iterable[torch.Tensor | np.ndarray] | torch.Tensor | np.ndarray,
    mean: float | None = None,
    std: float | None = None,
    beta: float = 8.0,
    interp: int = 4,
    device: torch.device | str = "cpu",
) -> Spectrum:
    """The mean power spectrum of ``images``: batches ``[N, C, H, W]`` (or single ``[C, H, W]``)
    of square images, in uint8 units (0..255) like ``avg_spectra.py``.

    ``mean``/``std``: whitening statistics (a dataset's; ``avg_spectra.py stats``); default:
    those of these images. ``interp``: zero-padding factor of the FFT. Channels are averaged.
    """
    if interp < 1:
        raise StyleGANError(f"interp must be at least 1, got {interp}")
    if std is not None and std <= 0:
        raise StyleGANError(f"std must be positive, got {std}")
    device = torch.device(device)
    size = window = fwin = None
    sum_f = sum_p = None
    count = 0  # image-channels
    pixel_sum = pixel_sq = 0.0
    num_images = 0
    for batch in _as_batches(images):
        _, _, height, width = batch.shape
        if height != width:
            raise StyleGANError(f"spectra need square images, got {height}x{width}")
        if size is None:
            size = height
            spec_size = size * interp
            window = kaiser_window_2d(size, beta, device)
            fwin = torch.fft.fft2(torch.nn.functional.pad(window, [0, spec_size - size] * 2))
            sum_f = torch.zeros([spec_size, spec_size], dtype=torch.complex128, device=device)
            sum_p = torch.zeros([spec_size, spec_size], dtype=torch.float64, device=device)
        elif height != size:
            raise StyleGANError(f"all images must have the same size: {height} after {size}")
        pad = [0, size * (interp - 1)] * 2
        for image in batch:  # one image at a time keeps the padded FFTs small
            x = image.to(device=device, dtype=torch.float64)
            pixel_sum += float(x.sum())
            pixel_sq += float(x.square().sum())
            f = torch.fft.fft2(torch.nn.functional.pad(x * window, pad))
            sum_f += f.sum(dim=0)
            sum_p += f.real.square().sum(dim=0) + f.imag.square().sum(dim=0)
            count += x.shape[0]
            num_images += 1
    if num_images == 0:
        raise StyleGANError("no images to compute a spectrum of")
    pixels = count * size * size
    if mean is None:
        mean = pixel_sum / pixels
    if std is None:
        std = math.sqrt(max(pixel_sq / pixels - (pixel_sum / pixels) ** 2, 0.0))
        if std == 0:
            raise StyleGANError("the images are constant; give std explicitly")
    # E|F(w (x - mu))|^2 = E|Fx|^2 - 2 mu Re(conj(Fw) E[Fx]) + mu^2 |Fw|^2, all over std^2.
    power = sum_p / count
    power = power - 2 * mean * (fwin.conj() * (sum_f / count)).real
    power = power + mean**2 * fwin.abs().square()
    power = (power / std**2).clamp(min=0)
    return Spectrum(
        power=power.cpu().numpy(),
        image_size=int(size),
        num_images=num_images,
        mean=float(mean),
        std=float(std),
    )


# ---- drawing -------------------------------------------------------------------------------------

PANEL = 256
_LEFT, _RIGHT, _TOP, _GAP, _BAR = 56, 24, 28, 28, 64
_AXIS_BELOW = 40
LEVELS_DB = (-40.0, 20.0, 5.0)  # heatmap colour range and band width, as avg_spectra.py
_BLUES = np.array(  # matplotlib's "Blues" at 0, 0.25, 0.5, 0.75, 1
    [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]],
    dtype=np.float64,
)
_PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
]


def figure_size(num_spectra: int, panel: int = PANEL) -> tuple[int, int]:
    """``(width, height)`` in pixels of :func:`spectrum_figure` for ``num_spectra`` spectra."""
    width = _LEFT + num_spectra * panel + (num_spectra - 1) * _GAP + _GAP + _BAR + _RIGHT
    height = _TOP + panel + _AXIS_BELOW + _TOP + panel + _AXIS_BELOW
    return width, height


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _colormap(t: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> RGB uint8 along the blues."""
    t = np.clip(t, 0, 1) * (len(_BLUES) - 1)
    lo = np.minimum(np.floor(t).astype(np.int64), len(_BLUES) - 2)
    frac = (t - lo)[..., None]
    return np.rint(_BLUES[lo] * (1 - frac) + _BLUES[lo + 1] * frac).astype(np.uint8)


def _heatmap_image(hmap: np.ndarray, panel: int) -> Image.Image:
    lo, hi, step = LEVELS_DB
    values = Image.fromarray(hmap[::-1].astype(np.float32), mode="F")  # +f_y upwards
    values = np.asarray(values.resize((panel, panel), Image.BILINEAR))
    bands = np.clip(np.floor((values - lo) / step), -1, (hi - lo) / step)  # contourf-like
    return Image.fromarray(_colormap((bands + 0.5) / ((hi - lo) / step)))


def _text(draw, xy, text, font, anchor="la", fill=(0, 0, 0)):
    try:
        draw.text(xy, text, font=font, fill=fill, anchor=anchor)
    except (ValueError, TypeError):  # bitmap fonts know no anchors
        draw.text(xy, text, font=font, fill=fill)


def _tick_label(v: float) -> str:
    return f"{v:g}"


def spectrum_figure(
    spectra: Mapping[str, Spectrum],
    path: str | Path | None = None,
    panel: int = PANEL,
    smooth: float = 1.25,
    db_range: tuple[float, float] | None = None,
) -> Image.Image:
    """The 2-D spectra side by side (top) and their radial profiles overlaid (bottom).

    Heatmaps show -Nyquist..+Nyquist in cycles per image on both axes, 5 dB bands from -40 to
    20 dB (``smooth`` as ``avg_spectra.py heatmap``); the profile plot spans 0..Nyquist, the dB
    axis ``db_range`` (default: fitted to the curves, in 10 dB steps). Size:
    :func:`figure_size`. Saved as PNG when ``path`` is given; the image is returned.
    """
    if not spectra:
        raise StyleGANError("no spectra to draw")
    sizes = {s.image_size for s in spectra.values()}
    if len(sizes) != 1:
        raise StyleGANError(f"spectra of different image sizes cannot share axes: {sorted(sizes)}")
    res = sizes.pop()
    n = len(spectra)
    width, height = figure_size(n, panel)
    fig = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(fig)
    font = _font(12)
    black, grey = (0, 0, 0), (200, 200, 200)

    # Heatmaps.
    ticks = [-res / 2, -res / 4, 0, res / 4, res / 2]
    for i, (name, spec) in enumerate(spectra.items()):
        x0 = _LEFT + i * (panel + _GAP)
        y0 = _TOP
        fig.paste(_heatmap_image(spec.heatmap_db(smooth), panel), (x0, y0))
        draw.rectangle([x0 - 1, y0 - 1, x0 + panel, y0 + panel], outline=black)
        _text(draw, (x0 + panel // 2, y0 - 6), name, font, anchor="ms")
        for t in ticks:
            px = x0 + (t / res + 0.5) * (panel - 1)
            py = y0 + (0.5 - t / res) * (panel - 1)
            draw.line([px, y0 + panel, px, y0 + panel + 4], fill=black)
            _text(draw, (px, y0 + panel + 6), _tick_label(t), font, anchor="mt")
            if i == 0:
                draw.line([x0 - 5, py, x0 - 1, py], fill=black)
                _text(draw, (x0 - 7, py), _tick_label(t), font, anchor="rm")
        if i == 0:
            _text(draw, (x0, y0 + panel + 22), "cycles per image", font, anchor="la")

    # Colour bar.
    lo, hi, step = LEVELS_DB
    bx0 = _LEFT + n * panel + (n - 1) * _GAP + _GAP
    bar_h = panel
    t = np.linspace(1, 0, bar_h)[:, None].repeat(14, axis=1)
    bands = np.floor(t * (hi - lo) / step - 1e-9)
    fig.paste(Image.fromarray(_colormap((bands + 0.5) / ((hi - lo) / step))), (bx0, _TOP))
    draw.rectangle([bx0 - 1, _TOP - 1, bx0 + 14, _TOP + bar_h], outline=black)
    for v in np.arange(lo, hi + step / 2, 2 * step):
        py = _TOP + (hi - v) / (hi - lo) * (bar_h - 1)
        draw.line([bx0 + 14, py, bx0 + 18, py], fill=black)
        _text(draw, (bx0 + 20, py), _tick_label(v), font, anchor="lm")
    _text(draw, (bx0, _TOP + bar_h + 6), "dB", font, anchor="la")

    # Radial profiles.
    profiles = {name: spec.radial_profile() for name, spec in spectra.items()}
    if db_range is None:
        values = np.concatenate([db[1:] for _, db in profiles.values()])  # DC aside
        ymin = 10 * math.floor(values.min() / 10) if values.size else -50.0
        ymax = 10 * math.ceil(values.max() / 10) if values.size else 30.0
        if ymax - ymin < 20:
            ymin = ymax - 20
    else:
        ymin, ymax = db_range
    px0, px1 = _LEFT, width - _RIGHT
    py0 = _TOP + panel + _AXIS_BELOW + _TOP
    py1 = py0 + panel

    def to_x(f: float) -> float:
        return px0 + f / (res / 2) * (px1 - px0)

    def to_y(v: float) -> float:
        return py1 - (v - ymin) / (ymax - ymin) * (py1 - py0)

    for f in np.linspace(0, res / 2, 9):
        draw.line([to_x(f), py0, to_x(f), py1], fill=grey)
        draw.line([to_x(f), py1, to_x(f), py1 + 4], fill=black)
        _text(draw, (to_x(f), py1 + 6), _tick_label(round(float(f), 2)), font, anchor="mt")
    ystep = 10 if ymax - ymin <= 100 else 20
    for v in np.arange(ymin, ymax + 1e-9, ystep):
        draw.line([px0, to_y(v), px1, to_y(v)], fill=grey)
        draw.line([px0 - 4, to_y(v), px0, to_y(v)], fill=black)
        _text(draw, (px0 - 6, to_y(v)), _tick_label(v), font, anchor="rm")
    draw.rectangle([px0, py0, px1, py1], outline=black)
    _text(draw, ((px0 + px1) / 2, py1 + 22), "radial frequency (cycles per image)", font, "mt")
    _text(draw, (px0, py0 - 6), "radially averaged power (dB)", font, anchor="ls")
    for i, (_name, (freqs, db)) in enumerate(profiles.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        points = [(to_x(f), to_y(min(max(v, ymin), ymax))) for f, v in zip(freqs, db)]
        draw.line(points, fill=colour, width=2)
    # Legend, top right inside the plot.
    for i, name in enumerate(profiles):
        colour = _PALETTE[i % len(_PALETTE)]
        ly = py0 + 12 + 16 * i
        lx = px1 - 150
        draw.line([lx, ly, lx + 24, ly], fill=colour, width=3)
        _text(draw, (lx + 30, ly), name, font, anchor="lm")

    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.save(path)
    return fig


# ---- real vs generated ---------------------------------------------------------------------------


def _dataset_images(dataset, num: int | None, seed: int, batch_size: int):
    from stylegan.data.dataset import ImageDataset

    if isinstance(dataset, (str, Path)):
        dataset = ImageDataset(dataset, max_size=num, random_seed=seed)
        indices = np.arange(len(dataset))
    else:
        indices = np.arange(len(dataset))
        if num is not None and num < len(indices):  # NVIDIA's max_size subset
            np.random.RandomState(seed).shuffle(indices)
            indices = np.sort(indices[:num])
    if num is not None and len(indices) < num:
        raise StyleGANError(f"the dataset has {len(indices)} images, fewer than {num}")
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        yield torch.from_numpy(np.stack([np.asarray(dataset[int(i)][0]) for i in chunk]))


def _generated_images(G, num: int, seed: int, batch_size: int, device, truncation_psi: float):
    """As ``avg_spectra.py``: image ``i`` from ``RandomState(seed + i)``: z, then a random class
    for conditional G; fresh noise; uint8 NCHW."""
    for start in range(0, num, batch_size):
        zs, cs = [], []
        for s in range(seed + start, seed + min(start + batch_size, num)):
            rnd = np.random.RandomState(s)
            zs.append(rnd.randn(G.z_dim))
            c = np.zeros(G.c_dim, dtype=np.float32)
            if G.c_dim > 0:
                c[rnd.randint(G.c_dim)] = 1
            cs.append(c)
        z = torch.from_numpy(np.stack(zs)).to(device=device, dtype=torch.float32)
        c = torch.from_numpy(np.stack(cs)).to(device)
        with torch.no_grad():
            img = G(z, c, truncation_psi=truncation_psi, noise_mode="random")
        yield (img * 127.5 + 128).clamp(0, 255).to(torch.uint8).cpu()


def compare_spectra(
    G: nn.Module | Mapping[str, nn.Module],
    dataset=None,
    num: int = 1000,
    path: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: torch.device | str | None = None,
    truncation_psi: float = 1.0,
    beta: float = 8.0,
    interp: int = 4,
    real_name: str = "real",
    smooth: float = 1.25,
) -> dict[str, Spectrum]:
    """Spectra of ``num`` real images (``dataset``: a path or an :class:`ImageDataset`-like
    sequence of ``(uint8 [C, H, W], label)``; optional) and ``num`` images of each generator
    (``G`` or ``{name: G}``; a single one is called ``"generated"``), all whitened with the real
    images' mean and std (else the first generator's). Draws :func:`spectrum_figure` to
    ``path`` if given. Returns ``{name: Spectrum}``, reals first."""
    generators = dict(G) if isinstance(G, Mapping) else {"generated": G}
    if not generators and dataset is None:
        raise StyleGANError("nothing to compare: give a dataset and/or generators")
    if num < 1:
        raise StyleGANError(f"num must be at least 1, got {num}")
    spectra: dict[str, Spectrum] = {}
    mean = std = None
    if dataset is not None:
        real = average_spectrum(
            _dataset_images(dataset, num, seed, batch_size), beta=beta, interp=interp
        )
        spectra[real_name] = real
        mean, std = real.mean, real.std
    for name, net in generators.items():
        from stylegan.tools.generate import prepare_generator

        net, dev = prepare_generator(net, device)
        images = _generated_images(net, num, seed, batch_size, dev, truncation_psi)
        spec = average_spectrum(images, mean=mean, std=std, beta=beta, interp=interp)
        if mean is None:
            mean, std = spec.mean, spec.std
        spectra[name] = spec
    sizes = {s.image_size for s in spectra.values()}
    if len(sizes) > 1:
        raise StyleGANError(f"the images differ in size: {sorted(sizes)}; compare like with like")
    if path is not None:
        spectrum_figure(spectra, path, smooth=smooth)
    return spectra


def compare_spectra_files(
    files: Sequence[str | Path], path: str | Path, smooth: float = 1.25
) -> Image.Image:
    """Draw :func:`spectrum_figure` from saved ``.npz`` spectra (ours or ``avg_spectra.py``'s),
    named by their file stems."""
    spectra = {Path(f).stem: Spectrum.load(f) for f in files}
    return spectrum_figure(spectra, path, smooth=smooth)
