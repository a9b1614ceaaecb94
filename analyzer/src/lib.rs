//! graphlint: finds host-device synchronisations in the hot paths of PyTorch and candle code.
