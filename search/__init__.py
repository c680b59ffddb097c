"""Co-exploration search and the coexplore command line."""
