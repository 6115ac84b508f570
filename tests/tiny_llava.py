"""A tiny from-config LLaVA (CLIP vision tower, Llama LM, a 300-token BPE) saved to a folder, for tests
of everything that loads `hf:` models: random weights, real architecture, real processor and chat template."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import transformers

CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'].upper() }}: {% for c in m['content'] %}"
                 "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
                 "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=32,
              patch_size=8)


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    texts = ["Question: what colour is the cube? Answer: red", "Yes No yes no", "a photo of a cat", "USER ASSISTANT"]
    tok.train_from_iterator(texts * 10, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                                eos_token="</s>")


def text_config(tokenizer: transformers.PreTrainedTokenizerFast) -> dict:
    return dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=512)


def image_processor() -> transformers.CLIPImageProcessorPil:
    return transformers.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


def save_tiny_llava(folder: Path, seed: int = 0) -> Path:
    """Write a tiny LLaVA model and its processor to `folder` (weights drawn with `seed`)."""
    logging.getLogger("transformers").setLevel(logging.ERROR)
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(**VISION),
        text_config=transformers.LlamaConfig(**text_config(tokenizer), num_key_value_heads=2, pad_token_id=0,
                                             bos_token_id=1, eos_token_id=2),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="full")
    processor = transformers.LlavaProcessor(image_processor=image_processor(), tokenizer=tokenizer, patch_size=8,
                                            vision_feature_select_strategy="full", chat_template=CHAT_TEMPLATE,
                                            num_additional_image_tokens=1)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
