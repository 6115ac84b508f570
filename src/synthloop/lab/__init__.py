"""The toy lab: a rendered world with ground truth, the auxiliary losses that make it learnable for a
tiny model, and the demo that runs the whole loop on it. Only the CLI and the demo import it."""
