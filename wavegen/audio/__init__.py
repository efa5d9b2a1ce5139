"""Signal processing shared by every layer above it: STFTs and mel spectrograms (:mod:`.stft`)."""
