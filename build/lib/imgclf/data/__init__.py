"""Datasets: fetching, decoding and the sharded .npz image sets between stages."""
