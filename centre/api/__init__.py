"""HTTP layer: dependencies (auth, DB sessions) and thin routes over `centre.crud`."""
