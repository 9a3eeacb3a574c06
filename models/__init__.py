"""The model: feature names, the Transform `preprocessing_fn` and the Trainer `run_fn`."""
