"""Search: `imgclf tune`, an Optuna study over a lab's space whose trials are DVC experiments."""
