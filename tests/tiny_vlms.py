"""Tiny from-config image-text-to-text models of two architectures for the hf trainer's tests, saved as
Hugging Face folders with their real chat templates: LLaVA-1.5 (whose template marks the assistant's
text with `{% generation %}`) and Idefics3, SmolVLM's architecture (whose template does not: TRL swaps
in its training version)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import transformers
from tiny_llava import VISION, save_tiny_llava, text_config, tiny_tokenizer

# llava-hf/llava-1.5-7b-hf's chat_template.json, as transformers' tests/models/llava/test_processing_llava.py
# (huggingface/transformers e1b551679e267be053b45581cbabd028a14defd2) holds it and checks it against the hub.
LLAVA_15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")


def tiny_llava_15(folder: Path) -> Path:
    """`tiny_llava.save_tiny_llava`'s model with LLaVA-1.5's own chat template."""
    save_tiny_llava(folder)
    processor = transformers.AutoProcessor.from_pretrained(folder)
    processor.chat_template = LLAVA_15_TEMPLATE
    processor.save_pretrained(folder)
    return folder


def tiny_idefics3(folder: Path) -> Path:
    """Idefics3 with the template of HuggingFaceM4/Idefics3-8B-Llama3 as TRL 1.16.0 stores it
    (`trl/chat_templates/idefics3.jinja`); 4 image tokens per image, no image splitting."""
    import trl

    logging.getLogger("transformers").setLevel(logging.ERROR)
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "<|begin_of_text|>", "eos_token": "<end_of_utterance>",
                                  "additional_special_tokens": ["<fake_token_around_image>", "<global-img>"]})
    ids = {name: tokenizer.convert_tokens_to_ids(getattr(tokenizer, name)) for name in ("pad_token", "bos_token",
                                                                                       "eos_token")}
    config = transformers.Idefics3Config(
        text_config=dict(text_config(tokenizer), num_key_value_heads=2, pad_token_id=ids["pad_token"],
                         bos_token_id=ids["bos_token"], eos_token_id=ids["eos_token"]),
        vision_config=VISION, image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2)
    image_processor = transformers.Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 32},
                                                             max_image_size={"longest_edge": 32})
    template = (Path(trl.__file__).parent / "chat_templates" / "idefics3.jinja").read_text(encoding="utf-8")
    processor = transformers.Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4,
                                               chat_template=template)
    transformers.Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
