"""XRayView desktop package."""
