"""TinyVLM, the model synthloop trains: network, tokenizer, input encoding, checkpoints and inference."""
