"""DataGate: applies the reviewed policy to a run's anomalies and stops the run on blocking ones."""
