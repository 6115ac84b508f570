"""The scene judge: a world judge in the manner of NS-VQA (Yi et al. 2018, "Neural-Symbolic VQA"), learned
perception plus the world's question grammar executed on what was perceived.

- `seen.py`: what perception sees in an image (objects with colour and shape probabilities and a box);
- `pixels.py`, `objects.py`: the learned perception, pixels to a `SeenScene`;
- `words.py`: the learned word reader, for questions about rendered text;
- `program.py`: a world question parsed and answered on a `SeenScene`, giving P(the stated answer is true);
- `judge.py`: the `Judge` backend the `judge` op calls (`py:synthloop.lab.scene_judge.judge:load`);
- `train.py`: trains every part from world scenes no demo pool or benchmark draws, regenerating the packaged
  checkpoint bit for bit (`python -m synthloop.lab.scene_judge`).
"""
