"""The development launcher behind `make dev`: the whole stack on embedded defaults."""
