"""The shared core experiment: data, models, training and results. Knows nothing of platforms."""
