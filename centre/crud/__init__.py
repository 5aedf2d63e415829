"""Database operations, one module per concern; routes stay thin and call these."""
