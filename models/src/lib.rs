//! candle ports of Kronos and Toto.
