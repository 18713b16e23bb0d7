"""XRayView inference package."""
