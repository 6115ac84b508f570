"""Auxiliary training losses keyed to the world's scene metadata, registered with the trainer on import
under the names `judge`, `grounding` and `referents` (training setting `aux_losses`)."""

from synthloop.lab.probes import grounding, judge, referents
from synthloop.train.aux import register_aux_loss

register_aux_loss("judge", judge.build)
register_aux_loss("grounding", grounding.build)
register_aux_loss("referents", referents.build)
