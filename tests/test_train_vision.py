import torch

from synthloop.models.tinyvlm import network as tinyvlm
from synthloop.models.tinyvlm.network import EfficientNetEncoder, content_cells


def test_folded_efficientnet_computes_the_same_features(monkeypatch):
    folded = EfficientNetEncoder(grid=4, image_size=32)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    pads = [m.padding for m in folded.modules() if isinstance(m, torch.nn.ZeroPad2d)]
    assert all(len(set(p)) > 1 for p in pads)  # only the asymmetric 'same' padding of stride-2 layers stays
    monkeypatch.setattr(tinyvlm, "fold_batch_norms", lambda net: None)
    reference = EfficientNetEncoder(grid=4, image_size=32)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in reference.modules())
    pixels = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, actual = reference(pixels), folded(pixels)
    assert actual.shape == expected.shape == (3, folded.out_dim, 4, 4)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    assert not any(p.requires_grad for p in folded.parameters())


def test_content_cells_keep_what_differs_from_the_plain_background():
    pixels = torch.full((3, 3, 16, 16), 250, dtype=torch.uint8)
    pixels[0, :, 2:6, 10:14] = torch.tensor([200, 20, 20], dtype=torch.uint8)[:, None, None]  # red, top right
    pixels[1, :, 7:9, 7:9] = 0  # a dark dot on the centre: touches all four cells of a 2x2 grid
    pixels[2, :, :, :] += torch.randint(0, 10, (16, 16), dtype=torch.uint8)  # faint noise only: no content
    cells = content_cells(pixels, grid=2)
    assert cells.tolist() == [[False, True, False, False], [True, True, True, True], [True, True, True, True]]
    assert content_cells(pixels, grid=4)[0].nonzero().flatten().tolist() == [2, 3, 6, 7]  # rows 0-1, cols 2-3


def test_encoding_gives_each_image_as_many_tokens_as_content_cells():
    from PIL import Image

    from synthloop.images import encode_png
    from synthloop.sample import new_sample
    from synthloop.train.data import encode_samples
    from synthloop.models.tinyvlm.tokenizer import IMAGE, train_tokenizer

    canvas = Image.new("RGB", (16, 16), (255, 255, 255))
    canvas.paste((0, 0, 200), (0, 0, 6, 6))  # one blue corner: 1 of 4 cells at grid 2
    image = {"bytes": encode_png(canvas), "path": None}
    good = new_sample("good", [{"role": "user", "content": "<image>\\nColour?"}, {"role": "assistant", "content": "blue"}],
                      [image])
    bad = new_sample("bad", [{"role": "user", "content": "Colour?"}, {"role": "assistant", "content": "blue"}], [image])
    tokenizer = train_tokenizer(["Colour?", "blue"], vocab_size=280)
    data = encode_samples([good, bad], tokenizer, image_tokens=4, image_size=16, max_seq_len=64,
                          image_cells=lambda px: content_cells(px, 2))
    assert data.cells.tolist() == [[True, False, False, False]]
    assert data.sample_ids == ["good"] and int((torch.from_numpy(data.ids[0]) == IMAGE).sum()) == 1
    assert data.skipped == [("bad", "0 <image> placeholder(s) but 1 image(s)")]


def test_image_positions_start_as_centred_2d_sine_cosine_codes_of_the_cells():
    codes = tinyvlm.grid_positions(4, 18, scale=0.5)
    assert codes.shape == (16, 18)
    assert torch.equal(codes[:, 16:], torch.zeros(16, 2))  # d not a multiple of 4: the rest is padding
    assert torch.allclose(codes.mean(dim=0), torch.zeros(18), atol=1e-6)
    # column x of row y: sin(x w) - mean, for w from 1 down to 1/4 radians per cell
    w = 4.0 ** -(torch.arange(4) / 3)
    x_sin = 0.5 * ((torch.arange(4)[:, None] * w).sin() - (torch.arange(4)[:, None] * w).sin().mean(0))
    assert torch.allclose(codes[[4, 5, 6, 7], :4], x_sin, atol=1e-6)  # row 1 codes x like row 0
    assert torch.allclose(codes[[1, 5, 9, 13], 8:12], codes[[4, 5, 6, 7], :4], atol=1e-6)  # y as x, transposed
    assert len({tuple(row) for row in codes.tolist()}) == 16  # every cell its own code
    model = tinyvlm.TinyVLM(tinyvlm.TinyVLMConfig(d_model=32, image_grid=4, image_pos_scale=0.25))
    assert torch.equal(model.image_pos.detach(), tinyvlm.grid_positions(4, 32, 0.25))
    off = tinyvlm.TinyVLM(tinyvlm.TinyVLMConfig(d_model=32, image_grid=4, image_pos_scale=0.0))
    assert not off.image_pos.detach().any()
