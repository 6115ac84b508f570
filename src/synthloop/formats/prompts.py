"""The instructions LLaVA-1.5 appends to questions, shared by data, synthesis and benchmarks.

`SHORT_ANSWER` closes open questions and `OPTION_LETTER` multiple-choice ones in LLaVA-1.5's training
mix and evaluation (haotian-liu/LLaVA, llava/eval/model_vqa_mmbench.py at 66ac31be: "Answer with the
option's letter from the given choices directly.").
"""

SHORT_ANSWER = "Answer the question using a single word or phrase."
OPTION_LETTER = "Answer with the option's letter from the given choices directly."
