"""``bench infer``: a trained cell (or a method without training) on the user's own NIfTI scans."""
