"""Data-free quantization: synthetic data, quantizers, fine-tuning (built in later issues)."""
