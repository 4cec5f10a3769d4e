"""CLIP models for text-driven editing: a real CLIP (``transformers``) or our own domain CLIP.

``load_clip(name_or_path)`` returns a :class:`~stylegan.networks.clip.TextImageModel`
(``encode_image``, ``encode_text``, ``logit_scale``, ``image_size``, ``templates``); see
:mod:`stylegan.clip.load` for the names and paths it takes. Editing code receives such an
object: tools never import this package (it sits beside them, above metrics).

* :mod:`stylegan.clip.domain`: our CLIP (frozen EfficientNet-Lite0 + trained heads);
* :mod:`stylegan.clip.train`: training it on a captioned dataset (``stylegan clip train``);
* :mod:`stylegan.clip.captions`, :mod:`stylegan.clip.tokenizer`: its captions and words;
* :mod:`stylegan.clip.hf`: OpenAI's CLIP through ``transformers`` (``stylegan[clip]``);
* :mod:`stylegan.clip.evaluate`: text-to-image retrieval.
"""

from stylegan.clip.load import SHIPPED, available_clips, load_clip
from stylegan.networks.clip import TextImageModel

__all__ = ["SHIPPED", "TextImageModel", "available_clips", "load_clip"]
