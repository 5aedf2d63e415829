"""Settings, keys and security primitives shared by the centre's routes and CRUD."""
