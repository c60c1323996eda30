"""Layer 5, what only one advanced track needs: Clever Hans checks, error detection, MODE."""
