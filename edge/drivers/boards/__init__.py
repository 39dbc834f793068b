"""LED display boards over RS-485 / RS-232: frame codecs, one writer per bus, the board service."""
