"""Layer 4, explanations: Captum's methods behind one entry point, artifact mass, contrastive
saliency and counterfactual search."""
