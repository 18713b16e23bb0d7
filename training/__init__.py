"""XRayView training package."""
