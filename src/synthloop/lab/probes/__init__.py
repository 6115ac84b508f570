"""Auxiliary training losses keyed to the world's scene metadata (judge, grounding, referents)."""
