"""Layer 1, utilities: validation, files, seeding, devices, paths. Imports nothing of ours."""
