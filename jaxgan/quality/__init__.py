"""Sample quality, knowing nothing of training: it scores the pixels it is given.

features.py  the data set's own classifier, whose features the metrics compare
metrics.py   FID, KID, classifier score, precision/recall, class histogram
evaluator.py Evaluator: a fixed real reference set and the real-vs-real floor
"""
