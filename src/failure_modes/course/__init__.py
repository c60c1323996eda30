"""Layer 6, course tooling: notebook build, headless runner, command line."""
