"""Reference REC hit, in exact rational arithmetic over the boxes' decimal coordinates; tests only.

A coordinate is the decimal number it is written as (a float stands for its shortest repr, which
is how JSON and the model's text give it). IoU = intersection / union of `[x1, y1, x2, y2]` boxes with
negative extents clipped to 0; no union, no hit.
"""

from fractions import Fraction


def exact_rec_hit(box, gold, threshold="0.5"):
    a = [Fraction(repr(float(v))) for v in box]
    b = [Fraction(repr(float(v))) for v in gold]
    width = max(Fraction(0), min(a[2], b[2]) - max(a[0], b[0]))
    height = max(Fraction(0), min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    area_a = max(Fraction(0), a[2] - a[0]) * max(Fraction(0), a[3] - a[1])
    area_b = max(Fraction(0), b[2] - b[0]) * max(Fraction(0), b[3] - b[1])
    union = area_a + area_b - inter
    return union > 0 and inter / union > Fraction(threshold)
