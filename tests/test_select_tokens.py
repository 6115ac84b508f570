"""Token budgets in a real tokenizer's tokens plus image tokens, checked against the tokenizer's own count."""

import pytest
import yaml
from test_engine_fixtures import noisy_samples, recipe_dict, write_dataset
from test_models_hf import tiny_tokenizer

from synthloop.engine import Recipe, RecipeError, run
from synthloop.formats.parquet import read_samples
from synthloop.ops import op_class

IMAGE_TOKENS = 576  # LLaVA-1.5 at 336 px


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    tiny_tokenizer().save_pretrained(folder)
    return str(folder)


def own_count(tokenizer, sample: dict) -> int:
    text_tokens = sum(len(tokenizer.encode(m["content"].replace("<image>", ""), add_special_tokens=False))
                      for m in sample["messages"])
    return text_tokens + IMAGE_TOKENS * len(sample["images"])


def test_sample_lengths_are_the_tokenizers_own_count(tokenizer_dir):
    from transformers import AutoTokenizer

    samples = noisy_samples(12)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    op = op_class("random")(budget_tokens=10_000, tokenizer=tokenizer_dir, image_tokens=IMAGE_TOKENS)
    counts = op.count_tokens(samples)
    assert counts == [own_count(tokenizer, s) for s in samples]
    assert counts != [sum(len(m["content"].split()) for m in s["messages"]) for s in samples]  # not words


def test_token_budget_keeps_what_fits(tmp_path, tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    samples = noisy_samples(40)
    lengths = {s["id"]: own_count(tokenizer, s) for s in samples}
    budget = 8_000
    data = write_dataset(tmp_path / "data", samples)
    ops = [{"random": {"budget_tokens": budget, "tokenizer": tokenizer_dir, "image_tokens": IMAGE_TOKENS}}]
    run(Recipe.model_validate(recipe_dict(tmp_path, data, ops)), progress=False)
    kept = [s["id"] for s in read_samples(tmp_path / "out")]
    spent = sum(lengths[i] for i in kept)
    assert 10 <= len(kept) < 40 and spent <= budget
    assert any(lengths[i] > budget - spent for i in lengths if i not in kept)  # the one that did not fit


def test_an_unloadable_tokenizer_is_a_recipe_error(tmp_path):
    data = write_dataset(tmp_path / "data", noisy_samples(2))
    ops = [{"random": {"budget_tokens": 10, "tokenizer": str(tmp_path / "nope")}}]
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe_dict(tmp_path, data, ops)))
    where = r"r.yaml line \d+: ops\[0\].random.tokenizer: "
    with pytest.raises(RecipeError, match=where + "tokenizer .*nope.: not a folder") as err:
        Recipe.from_yaml(tmp_path / "r.yaml")
    assert "\n" not in str(err.value)


def llava_processor_folder(folder):
    """A tiny LLaVA processor (CLIP crop 40x32, patch 8, one CLS token: 21 tokens) saved as a Hugging Face folder."""
    import transformers

    image_processor = transformers.CLIPImageProcessorPil(size={"shortest_edge": 48}, crop_size={"height": 40, "width": 32})
    transformers.LlavaProcessor(image_processor=image_processor, tokenizer=tiny_tokenizer(), patch_size=8,
                                vision_feature_select_strategy="full", num_additional_image_tokens=1,
                                ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def llava_processor_dir(tmp_path_factory):
    return llava_processor_folder(tmp_path_factory.mktemp("processor"))


def test_image_tokens_from_a_processor_folder_is_the_processors_own_expansion(llava_processor_dir):
    from PIL import Image
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(llava_processor_dir)
    inputs = processor(images=[Image.new("RGB", (90, 60), "red")], text=["<image>\nIs it red?"])
    expanded = inputs["input_ids"][0].count(processor.image_token_id)
    assert expanded == 5 * 4 + 1  # (40 // 8) * (32 // 8) patches + CLS
    op = op_class("random")(budget_tokens=100, image_tokens=str(llava_processor_dir))
    assert op.image_tokens == expanded
    assert op.count_tokens([{"messages": [{"role": "user", "content": "<image>"}], "images": ["a.png", "b.png"]}]) \
        == [2 * expanded]


def test_image_tokens_from_a_llava_model_config_is_the_models_own_feature_count(tmp_path):
    import torch
    import transformers

    vision = transformers.CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, image_size=32, patch_size=8)
    text = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                    num_attention_heads=2, num_key_value_heads=2)
    for strategy, expected in (("full", 17), ("default", 16)):
        config = transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_index=3,
                                          vision_feature_select_strategy=strategy)
        config.save_pretrained(tmp_path / strategy)
        model = transformers.LlavaForConditionalGeneration(config).eval()
        with torch.no_grad():
            features = model.get_image_features(pixel_values=torch.zeros(1, 3, 32, 32))
        features = getattr(features, "pooler_output", features)
        features = features[0] if isinstance(features, (list, tuple)) else features
        assert features.shape[-2] == expected
        assert op_class("random")(image_tokens=str(tmp_path / strategy)).image_tokens == expected


def test_a_folder_that_is_no_fixed_resolution_processor_is_a_recipe_error(tmp_path, tokenizer_dir):
    import transformers

    transformers.Qwen2VLImageProcessorPil().save_pretrained(tmp_path / "qwen")
    data = write_dataset(tmp_path / "data", noisy_samples(2))
    where = r"r.yaml line \d+: ops\[0\].random.image_tokens: image_tokens "
    for folder, problem in ((tokenizer_dir, ".*: not a Hugging Face processor or model folder"), (tmp_path / "nope", ".*nope.: neither a number nor a folder"),
                            (tmp_path / "qwen", ".*is not a fixed-resolution LLaVA processor")):
        ops = [{"random": {"budget_tokens": 10, "image_tokens": str(folder)}}]
        (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe_dict(tmp_path, data, ops)))
        with pytest.raises(RecipeError, match=where + problem) as err:
            Recipe.from_yaml(tmp_path / "r.yaml")
        assert "\n" not in str(err.value)
