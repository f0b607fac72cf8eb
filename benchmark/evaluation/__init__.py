"""Stage 5 of the flow, evaluation: the metrics (3D SSIM, PSNR) and the slices kept for figures."""
